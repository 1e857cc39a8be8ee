using System.Text.Json;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>
/// One object of a watch or a list as the client parsed it (a <see cref="JsonElement"/>), read for the few fields every
/// replica needs of every object: name, resourceVersion, and a Canary's target and status summary. Sharded replicas all
/// see every Canary's and Deployment's events; only the objects of the partitions a replica keeps are parsed further (what
/// the watch reads of a Deployment, <see cref="WatchedDeployment"/>; a Canary without its saga state). Parsing every event in full (a string copy, a JSON tree and the
/// typed models, in each of N replicas) was most of what a replica allocated for other replicas' rollouts (issue 15).
/// </summary>
public readonly record struct Sighting(JsonElement Raw)
{
    public string Name => Text(Raw, "metadata", "name") ?? "";
    public string? ResourceVersion => Text(Raw, "metadata", "resourceVersion");

    /// <summary>A Canary's target Deployment ("" when it names none).</summary>
    public string TargetName => CanaryStateListing.TargetName(Raw) ?? "";

    /// <summary>The label <paramref name="key"/>, or null.</summary>
    public string? Label(string key) => Text(Raw, "metadata", "labels", key);

    /// <summary>The annotation <paramref name="key"/>, or null.</summary>
    public string? Annotation(string key) => Text(Raw, "metadata", "annotations", key);

    public JsonElement? Status => Raw.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object ? s : null;

    public static Sighting Of(object item) => new(item is JsonElement e ? e : JsonSerializer.SerializeToElement(item, CanaryResource.Json));

    /// <summary>The Canary without its saga state (the store's business, and the bulk of a Canary's status), in a copy of
    /// its own: an item of a list page must not keep the whole page alive in the watch's cache.</summary>
    public CanaryResource ToCanary() => CanaryResource.FromElement(Raw, CanaryStatusRolloutStore.StateField);

    /// <summary>The string at <paramref name="path"/> (property names from <paramref name="e"/> down), or null.</summary>
    private static string? Text(JsonElement e, params ReadOnlySpan<string> path)
    {
        foreach (var name in path)
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out e)) return null;
        return e.ValueKind == JsonValueKind.String ? e.GetString() : null;
    }
}

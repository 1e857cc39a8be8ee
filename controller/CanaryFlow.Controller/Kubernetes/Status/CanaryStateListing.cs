using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Rollouts;
using k8s;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// Reads the saga states stored in the Canaries' status, for the rollouts a filter selects only. The list is read in
/// pages (<c>limit</c>/<c>continue</c>) and each page as the client parsed it (a <see cref="JsonElement"/>): a Canary's
/// target is read first, and only a selected one's state is deserialised. So a sharded replica that owns a twelfth of
/// 10,000 Canaries holds one page and its own rollouts, never a tree of every Canary (issue 15).
/// </summary>
public static class CanaryStateListing
{
    /// <summary>Canaries per list request: bounds what one page holds in memory on both sides.</summary>
    public const int PageSize = 500;

    /// <summary>One Canary's stored state, or null when it has none yet (initialised, never rolled out).</summary>
    public sealed record Stored(RolloutTarget Target, RolloutState? State);

    public static async Task<IReadOnlyList<Stored>> ListAsync(IKubernetes client, IEnumerable<string> namespaces, Func<Guid, bool> selected, CancellationToken ct)
    {
        var found = new List<Stored>();
        foreach (var ns in namespaces)
            await foreach (var page in PagesAsync(client, ns, ct))
                foreach (var item in Items(page))
                    if (Read(item, ns, selected) is { } stored) found.Add(stored);
        return found;
    }

    /// <summary>A namespace's Canaries, one list page at a time, as the client parsed each (the watch reads them too).</summary>
    public static IAsyncEnumerable<JsonElement> PagesAsync(IKubernetes client, string ns, CancellationToken ct) =>
        PagesAsync(client, CanaryResource.Group, CanaryResource.Version, CanaryResource.Plural, ns, ct);

    /// <summary>Any kind's objects of a namespace (the custom-object path serves built-in kinds too: apps/v1 deployments),
    /// a page at a time, unparsed beyond the client's JSON.</summary>
    public static async IAsyncEnumerable<JsonElement> PagesAsync(IKubernetes client, string group, string version, string plural, string ns,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        string? next = null;
        for (var page = 0; page < 100_000; page++) // bounded: a server that never ends the list cannot keep us here
        {
            var response = await client.CustomObjects.ListNamespacedCustomObjectAsync(group, version, ns,
                plural, continueParameter: next, limit: PageSize, cancellationToken: ct);
            var root = response is JsonElement e ? e : JsonSerializer.SerializeToElement(response);
            yield return root;
            next = root.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("continue", out var c) && c.ValueKind == JsonValueKind.String
                ? c.GetString() : null;
            if (string.IsNullOrEmpty(next)) yield break;
        }
    }

    public static IEnumerable<JsonElement> Items(JsonElement page) =>
        page.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array ? items.EnumerateArray() : [];

    /// <summary>The object's name, read without parsing the rest.</summary>
    public static string? Name(JsonElement item) =>
        item.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
        && metadata.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;

    /// <summary>The Canary's target Deployment name, read without parsing the rest.</summary>
    public static string? TargetName(JsonElement item) =>
        item.TryGetProperty("spec", out var spec) && spec.TryGetProperty("targetRef", out var targetRef)
        && targetRef.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;

    private static Stored? Read(JsonElement item, string ns, Func<Guid, bool> selected)
    {
        if (TargetName(item) is not { } name) return null;
        var target = new RolloutTarget(item.TryGetProperty("metadata", out var m) && m.TryGetProperty("namespace", out var n) && n.GetString() is { } itemNs ? itemNs : ns,
            name);
        if (!selected(RolloutIds.ForTarget(target))) return null;
        var state = item.TryGetProperty("status", out var status) && status.TryGetProperty(CanaryStatusRolloutStore.StateField, out var json)
                    && json.ValueKind == JsonValueKind.String && json.GetString() is { Length: > 0 } text
            ? JsonSerializer.Deserialize<RolloutState>(text) : null;
        return new Stored(target, state);
    }
}

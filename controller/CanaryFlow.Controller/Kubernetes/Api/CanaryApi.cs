using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Api;

/// <summary>
/// Reads and writes Canary resources and other custom objects as raw JSON (so that fields this version of
/// the controller does not know survive every write), and finds the Canary that governs a Deployment.
/// </summary>
public sealed class CanaryApi(IKubernetes client, IOptions<KubernetesOptions> options)
{
    // Which Canary governs which Deployment rarely changes: remember it, so that finding the Canary for
    // a target costs one GET instead of listing the namespace (which grows with the number of Canaries).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<RolloutTarget, string> _canaryFor = new();

    public IKubernetes Client => client;

    public async Task<IReadOnlyList<CanaryResource>> ListAsync(string ns, CancellationToken ct)
    {
        var list = await client.CustomObjects.ListNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, ns, CanaryResource.Plural, cancellationToken: ct);
        var items = ToNode(list)?["items"] as JsonArray ?? [];
        return items.Where(i => i is not null).Select(i => CanaryResource.FromObject(i!)).ToList();
    }

    public async Task<IReadOnlyList<CanaryResource>> ListAllAsync(CancellationToken ct)
    {
        var all = new List<CanaryResource>();
        foreach (var ns in options.Value.Namespaces) all.AddRange(await ListAsync(ns, ct));
        return all;
    }

    /// <summary>The Canary whose targetRef names the target Deployment, read now, without its saga state (the status
    /// store's business, and the bulk of a Canary: every transition asks here several times).</summary>
    /// <exception cref="CanaryNotFoundException">No Canary governs the target.</exception>
    public async Task<CanaryResource> FindForTargetAsync(RolloutTarget target, CancellationToken ct)
    {
        if (await KnownAsync(target, ct) is { } known) return known;
        // A listing that was already running when this miss came may have read its page before the Canary was created:
        // then one more, started after the miss (at most two per call).
        for (var round = 0; round < 2; round++)
        {
            var started = await ListTargetsAsync(target.Namespace, ct);
            if (await KnownAsync(target, ct) is { } found) return found;
            if (started) break;
        }
        throw new CanaryNotFoundException(target);
    }

    /// <summary>The Canary the cache names for the target, if it still targets it.</summary>
    private async Task<CanaryResource?> KnownAsync(RolloutTarget target, CancellationToken ct)
    {
        if (!_canaryFor.TryGetValue(target, out var name)) return null;
        if (await GetCanaryAsync(target.Namespace, name, ct) is { } canary && canary.TargetName == target.Name) return canary;
        _canaryFor.TryRemove(KeyValuePair.Create(target, name));
        return null;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task>> _listing = new();

    /// <summary>Learns which Canary governs which target for every Canary of the namespace: page by page, names only (no
    /// Canary is parsed). Misses that come while a listing runs wait for it instead of listing again: at a replica's start
    /// the first transitions of many rollouts miss at once, and each used to list and parse every Canary of the namespace
    /// (at 10,000 Canaries, tens of such lists side by side).</summary>
    /// <returns>Whether this call started the listing (false: it joined one already running).</returns>
    private async Task<bool> ListTargetsAsync(string ns, CancellationToken ct)
    {
        Lazy<Task>? mine = null;
        mine = new Lazy<Task>(() => Task.Run(async () =>
        {
            try
            {
                await foreach (var page in CanaryStateListing.PagesAsync(client, ns, CancellationToken.None))
                    foreach (var item in page.Items)
                        if (CanaryStateListing.TargetName(item) is { Length: > 0 } t && CanaryStateListing.Name(item) is { } name)
                            _canaryFor[new RolloutTarget(ns, t)] = name;
            }
            finally { _listing.TryRemove(KeyValuePair.Create(ns, mine!)); } // the next miss lists afresh
        }));
        var listing = _listing.GetOrAdd(ns, mine);
        await listing.Value.WaitAsync(ct);
        return ReferenceEquals(listing, mine);
    }

    public async Task<CanaryContext> ResolveAsync(RolloutTarget target, CancellationToken ct) =>
        CanaryContext.From(await FindForTargetAsync(target, ct), options.Value.TrackLabel);

    /// <summary>The Canary as the server holds it now, without its saga state; null when it does not exist.</summary>
    public async Task<CanaryResource?> GetCanaryAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            var item = await client.CustomObjects.GetNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, ns, CanaryResource.Plural, name, ct);
            return CanaryResource.FromElement(item is JsonElement e ? e : JsonSerializer.SerializeToElement(item, CanaryResource.Json), CanaryStatusRolloutStore.StateField);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }

    public Task<JsonObject?> GetCanaryRawAsync(string ns, string name, CancellationToken ct) =>
        GetCustomAsync(CanaryResource.Group, CanaryResource.Version, ns, CanaryResource.Plural, name, ct);

    /// <summary>The object, or null when it does not exist.</summary>
    public async Task<JsonObject?> GetCustomAsync(string group, string version, string ns, string plural, string name, CancellationToken ct)
    {
        try { return ToNode(await client.CustomObjects.GetNamespacedCustomObjectAsync(group, version, ns, plural, name, ct)) as JsonObject; }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }

    public async Task CreateCustomAsync(string group, string version, string ns, string plural, JsonObject body, CancellationToken ct)
    {
        try { await client.CustomObjects.CreateNamespacedCustomObjectAsync(body, group, version, ns, plural, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { } // created meanwhile: fine
    }

    public async Task<JsonObject?> JsonPatchCustomAsync(string group, string version, string ns, string plural, string name, JsonArray patch, CancellationToken ct) =>
        ToNode(await client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch(patch.ToJsonString(), V1Patch.PatchType.JsonPatch), group, version, ns, plural, name, cancellationToken: ct)) as JsonObject;

    /// <summary>Sets (or, with null, removes) the Canary's partition label (no precondition).</summary>
    public Task SetPartitionLabelAsync(string ns, string name, string? value, CancellationToken ct) =>
        client.CustomObjects.PatchNamespacedCustomObjectAsync(Hosting.Sharding.PartitionLabel.Patch(value), CanaryResource.Group, CanaryResource.Version,
            ns, CanaryResource.Plural, name, cancellationToken: ct);

    /// <summary>PUT of the status subresource; the body's metadata.resourceVersion makes it conditional (409 when stale).</summary>
    public Task ReplaceCanaryStatusAsync(JsonObject canary, CancellationToken ct) =>
        client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(canary, CanaryResource.Group, CanaryResource.Version,
            (string)canary["metadata"]!["namespace"]!, CanaryResource.Plural, (string)canary["metadata"]!["name"]!, cancellationToken: ct);

    public Task MergePatchCanaryStatusAsync(CanaryResource canary, JsonObject statusPatch, CancellationToken ct) =>
        client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch(new JsonObject { ["status"] = statusPatch }.ToJsonString(), V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, canary.Namespace, CanaryResource.Plural, canary.Name, cancellationToken: ct);

    /// <summary>Records a Kubernetes Event on the Canary, as <c>kubectl describe canary</c> shows it.</summary>
    public async Task RecordEventAsync(CanaryResource canary, string type, string reason, string message, DateTime now, CancellationToken ct)
    {
        var ev = new Corev1Event
        {
            // Named as the API server's own recorders name them: the object's name, a dot, a unique suffix.
            Metadata = new V1ObjectMeta { Name = $"{canary.Name}.{Guid.NewGuid().ToString("N")[..16]}", NamespaceProperty = canary.Namespace },
            InvolvedObject = new V1ObjectReference
            {
                ApiVersion = CanaryResource.ApiVersion, Kind = CanaryResource.Kind, Name = canary.Name, NamespaceProperty = canary.Namespace,
                Uid = canary.Metadata.Uid, ResourceVersion = canary.Metadata.ResourceVersion,
            },
            Type = type,
            Reason = reason,
            Message = message.Length > 1024 ? message[..1024] : message,
            Source = new V1EventSource { Component = "canaryflow" },
            ReportingComponent = "canaryflow.dev/controller",
            ReportingInstance = Environment.MachineName,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        };
        await client.CoreV1.CreateNamespacedEventAsync(ev, canary.Namespace, cancellationToken: ct);
    }

    public static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        JsonElement e => JsonNode.Parse(e.GetRawText()),
        JsonNode n => n,
        _ => JsonSerializer.SerializeToNode(value, CanaryResource.Json),
    };
}

public sealed class CanaryNotFoundException(RolloutTarget target) : Exception($"No Canary in namespace {target.Namespace} targets Deployment {target.Name}.")
{
    public RolloutTarget Target { get; } = target;
}

/// <summary>The names of every object one Canary involves (Flagger's conventions: the target is the canary,
/// <c>&lt;name&gt;-primary</c> the stable copy), and the subsets that route to each (Argo Rollouts' subset-level
/// splitting: the user may name them, e.g. v1/v2).</summary>
public sealed record CanaryContext(
    CanaryResource Canary,
    RolloutTarget Target,
    string PrimaryName,
    string ServiceName,
    int ServicePort,
    string VirtualServiceName,
    bool AdoptsVirtualService,
    string DestinationRuleName,
    bool AdoptsDestinationRule,
    RouteSubsets Subsets,
    string TrackLabel,
    TimeSpan ProgressDeadline)
{
    public static CanaryContext From(CanaryResource canary, string trackLabel)
    {
        var target = canary.TargetName;
        var spec = canary.Spec;
        var adopted = spec?.VirtualService?.Name;
        var adoptedRule = spec?.DestinationRule?.Name;
        var subsets = new RouteSubsets(spec?.VirtualService?.StableSubset ?? RouteSubsets.Default.Stable,
            spec?.VirtualService?.CanarySubset ?? RouteSubsets.Default.Canary,
            spec?.Analysis?.Match is { Count: > 0 } ? $"{target}-canaryflow-ab" : null); // A/B: weights on the match route only
        return new CanaryContext(canary, new RolloutTarget(canary.Namespace, target), target + WorkloadNames.StableSuffix,
            spec?.Service?.Name ?? target, spec?.Service?.Port ?? 80,
            adopted ?? target, adopted is not null, adoptedRule ?? target, adoptedRule is not null, subsets, trackLabel,
            TimeSpan.FromSeconds(spec?.Analysis?.ProgressDeadlineSeconds ?? 600));
    }
}

/// <summary>The names of the DestinationRule subsets that serve the stable and the canary pods.</summary>
/// <param name="OnlyRoute">A/B testing: the name of the HTTP route that carries the weights (the match route); the
/// others to the service stay all on stable. Null, or no route of that name yet: every route to the service.</param>
public sealed record RouteSubsets(string Stable, string Canary, string? OnlyRoute = null)
{
    public static readonly RouteSubsets Default = new("stable", "canary");
}

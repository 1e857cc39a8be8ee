using System.Text.Json;
using System.Text.Json.Serialization;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Rollouts;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// Reads the saga states stored in the Canaries' status, for the rollouts a filter selects only. The list is read in
/// pages (<c>limit</c>/<c>continue</c>) and each item of a page as a <see cref="JsonElement"/> of its own (see
/// <see cref="ListPage"/>): a Canary's target is read first, and only a selected one's state is deserialised. So a sharded
/// replica that owns a twelfth of 10,000 Canaries holds one page and its own rollouts, never a tree of every Canary (issue 15).
/// </summary>
public static class CanaryStateListing
{
    /// <summary>Canaries per list request: bounds what one page holds in memory on both sides.</summary>
    public const int PageSize = 500;

    /// <summary>One Canary's stored state, or null when it has none yet (initialised, never rolled out).</summary>
    public sealed record Stored(RolloutTarget Target, RolloutState? State);

    /// <param name="labelSelector">Asked of the API server, so that the Canaries it leaves out are never sent (a sharded
    /// replica's own partitions); <paramref name="selected"/> still decides which of those sent are read.</param>
    public static async Task<IReadOnlyList<Stored>> ListAsync(IKubernetes client, IEnumerable<string> namespaces, Func<Guid, bool> selected, CancellationToken ct,
        string? labelSelector = null)
    {
        var found = new List<Stored>();
        foreach (var ns in namespaces)
            await foreach (var page in PagesAsync(client, CanaryResource.Group, CanaryResource.Version, CanaryResource.Plural, ns, ct, labelSelector))
                foreach (var item in page.Items)
                    if (Read(item, ns, selected) is { } stored) found.Add(stored);
        return found;
    }

    /// <summary>
    /// One page of a list, each item parsed on its own. Read as one <see cref="JsonElement"/> (the client's untyped
    /// answer), a page of 500 Canaries or Deployments (megabytes) went whole through the serializer's read buffer, grown by
    /// doubling up to 4 MB, then into a copy of the page and a token table as large: three large-object-heap arrays per page,
    /// the largest source of the large object heap in the 1,000-Canary load run (docs/benchmarks.md, "The large object heap's
    /// sources"). A typed page lets the serializer read the item list as a stream: it buffers one item at a time, and each
    /// item is a small document of its own, collected young unless it is kept.
    /// </summary>
    public sealed class ListPage
    {
        [JsonPropertyName("metadata")] public V1ListMeta? Metadata { get; set; }
        [JsonPropertyName("items")] public List<JsonElement> Items { get; set; } = [];
    }

    /// <summary>A namespace's Canaries, one list page at a time (the watch reads them too).</summary>
    public static IAsyncEnumerable<ListPage> PagesAsync(IKubernetes client, string ns, CancellationToken ct) =>
        PagesAsync(client, CanaryResource.Group, CanaryResource.Version, CanaryResource.Plural, ns, ct);

    /// <summary>Any kind's objects of a namespace (the custom-object path serves built-in kinds too: apps/v1 deployments),
    /// a page at a time, each item unparsed beyond its JSON; only those <paramref name="labelSelector"/> selects, if given.</summary>
    public static async IAsyncEnumerable<ListPage> PagesAsync(IKubernetes client, string group, string version, string plural, string ns,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct, string? labelSelector = null)
    {
        string? next = null;
        for (var page = 0; page < 100_000; page++) // bounded: a server that never ends the list cannot keep us here
        {
            var response = await client.CustomObjects.ListNamespacedCustomObjectAsync<ListPage>(group, version, ns,
                plural, continueParameter: next, labelSelector: labelSelector, limit: PageSize, cancellationToken: ct);
            yield return response;
            next = response.Metadata?.ContinueProperty;
            if (string.IsNullOrEmpty(next)) yield break;
        }
    }

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

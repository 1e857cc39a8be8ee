using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Web;

/// <summary>A rollout this replica does not hold, as the cluster-wide view shows it: what its Canary's status says. It has
/// every field <see cref="RolloutStatusView"/> requires (clients such as the CLI read both shapes as that record).</summary>
public sealed record RemoteRolloutView(RolloutTarget Target, string Canary, string Revision, string Phase, int CanaryWeight, int DesiredWeight,
    int StepIndex, IReadOnlyList<int> Steps, string LastReason, DateTimeOffset LastTransitionAt, IReadOnlyList<RolloutTransitioned> History,
    DateTimeOffset? HoldingSince);

/// <summary>
/// The status API's list, cluster-wide (issue 15): the rollouts this replica owns in full (<see cref="RolloutStatusView"/>,
/// as before), and every other Canary from its status' summary (<see cref="ClusterCanaryStatuses"/>). Each
/// row says which partition the rollout is in, which replica owns it (the partition Lease's holder; null while it moves)
/// and whether it is this replica's (<c>local</c>), so any replica's page shows the whole cluster.
/// </summary>
public sealed class ClusterRollouts(IRolloutStore store, RolloutHistory history, IPartitionOwnership ownership, JsonSerializerOptions json,
    ClusterCanaryStatuses? statuses = null, IPartitionHolders? holders = null)
{
    public static ClusterRollouts From(IServiceProvider services) => new(
        services.GetRequiredService<IRolloutStore>(), services.GetRequiredService<RolloutHistory>(),
        services.GetService<IPartitionOwnership>() ?? new WholeOwnership(),
        services.GetService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>()?.Value.SerializerOptions ?? JsonSerializerOptions.Web,
        services.GetService<ClusterCanaryStatuses>(), services.GetService<IPartitionHolders>());

    public async Task<JsonArray> ListAsync(CancellationToken ct)
    {
        var local = (await store.LoadAllAsync(ct)).ToDictionary(s => s.Target);
        var owners = await OwnersAsync(ct);
        var remote = statuses is null ? [] : await statuses.AllAsync(ct);
        var rows = new List<(string Key, JsonObject Row)>(local.Count + remote.Count);
        foreach (var s in local.Values) rows.Add((s.Target.ToString(), Mark(Local(s), s.Target, owners, isLocal: true)));
        foreach (var summary in remote)
            if (!local.ContainsKey(summary.Target)) rows.Add((summary.Target.ToString(), Mark(Remote(summary), summary.Target, owners, isLocal: false)));
        return new JsonArray([.. rows.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Row)]);
    }

    /// <summary>One rollout: this replica's own in full (the shape the API always had); another replica's from its Canary's status,
    /// marked with its owner; null when no Canary of the watched namespaces has it.</summary>
    public async Task<JsonNode?> FindAsync(RolloutTarget target, CancellationToken ct)
    {
        if (await RolloutsApi.FindAsync(store, target, ct) is { } state) return JsonSerializer.SerializeToNode(RolloutsApi.View(state, history, withHistory: true), json);
        return statuses is not null && await statuses.FindAsync(target, ct) is { } summary ? Mark(Remote(summary), target, await OwnersAsync(ct), isLocal: false) : null;
    }

    private JsonObject Local(RolloutState s) => (JsonObject)JsonSerializer.SerializeToNode(RolloutsApi.View(s, history, withHistory: false), json)!;

    private JsonObject Remote(CanaryStatusSummary s) => (JsonObject)JsonSerializer.SerializeToNode(new RemoteRolloutView(s.Target, s.Canary, s.Revision ?? "",
        s.Phase, s.CanaryWeight, s.CanaryWeight, s.Step, [],
        s.Phase == CanaryStatusView.Initialized ? "no rollout yet" : "from the Canary's status: another replica holds this rollout",
        s.LastTransitionAt ?? default, [], s.HoldingSince), json)!;

    private JsonObject Mark(JsonObject row, RolloutTarget target, IReadOnlyDictionary<int, string> owners, bool isLocal)
    {
        var partition = ownership.Partitions > 1 ? RolloutPartitions.OfTarget(target, ownership.Partitions) : 0;
        row["partition"] = partition;
        row["owner"] = isLocal ? holders?.Self : owners.GetValueOrDefault(partition);
        row["local"] = isLocal;
        return row;
    }

    private async Task<IReadOnlyDictionary<int, string>> OwnersAsync(CancellationToken ct)
    {
        if (holders is null) return new Dictionary<int, string>();
        try { return await holders.HoldersAsync(ct); }
        catch (Exception e) when (e is not OperationCanceledException) { return new Dictionary<int, string>(); } // the page shows "moving"
    }
}

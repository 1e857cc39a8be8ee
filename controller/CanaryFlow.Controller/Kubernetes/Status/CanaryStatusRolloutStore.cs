using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// <see cref="IRolloutStore"/> in the Canary's status (status subresource): the saga state as JSON in
/// <c>status.rolloutState</c>, its version in <c>status.stateVersion</c>, and beside them the fields people
/// read (phase, weight, step, checks, revisions, conditions). Two guards: the version compare gives the
/// saga its optimistic concurrency; the resourceVersion carried by the write makes read-compare-write atomic.
/// </summary>
/// Saves that only move sequential analysis' running evidence are held for a while (<see cref="EvidenceWriteThrottle"/>).
public sealed class CanaryStatusRolloutStore(CanaryApi api, CanaryStatusWriter writer, TimeProvider clock, Microsoft.Extensions.Options.IOptions<KubernetesOptions> options)
    : IRolloutStore
{
    public const string StateField = "rolloutState";
    public const string VersionField = "stateVersion";

    // The ticker reads every rollout every tick: serve that from snapshots kept by this replica's own
    // saves, and list the Canaries again only now and then (to see other writers, e.g. after a failover).
    private static readonly TimeSpan RelistAfter = TimeSpan.FromSeconds(30);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, RolloutState> _snapshots = new();
    private DateTimeOffset _listedAt = DateTimeOffset.MinValue;
    private readonly EvidenceWriteThrottle _throttle = new(options.Value.EvidenceWriteInterval);

    public async Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false)
    {
        if (fresh || clock.GetUtcNow() - _listedAt >= RelistAfter)
        {
            var listed = new Dictionary<Guid, RolloutState>();
            foreach (var canary in await api.ListAllAsync(cancellationToken))
                if (canary.StatusString(StateField) is { Length: > 0 } json && JsonSerializer.Deserialize<RolloutState>(json) is { } state)
                    listed[state.CorrelationId] = state;
            foreach (var id in _snapshots.Keys.Where(id => !listed.ContainsKey(id))) _snapshots.TryRemove(id, out _);
            // A newer snapshot of this replica's wins over the listed copy, unless the engine reloads (fresh) and another
            // writer moved the durable copy since this replica's last write: a save held here (the durable copy is
            // still the version this replica wrote) stays the truth, or the rollout's next save would conflict forever.
            foreach (var (id, state) in listed)
                _snapshots.AddOrUpdate(id, state, (_, mine) => mine.Version > state.Version && (!fresh || _throttle.WroteLast(id, state.Version)) ? mine : state);
            if (fresh) _throttle.ForgetUnless(id => listed.TryGetValue(id, out var stored) && _throttle.WroteLast(id, stored.Version));
            _listedAt = clock.GetUtcNow();
        }
        return _snapshots.Values.ToList();
    }

    public async Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_throttle.MayHold(state, expectedVersion, now))
        {
            _snapshots[state.CorrelationId] = state.Clone(); // the ticker and the status API read the newest
            return;
        }
        var storedVersion = _throttle.StoredVersion(state.CorrelationId, expectedVersion);
        try { await WriteAsync(state, storedVersion, cancellationToken); }
        catch (RolloutConcurrencyException)
        {
            _throttle.Forget(state.CorrelationId);
            throw;
        }
        _throttle.Wrote(state, now);
    }

    private async Task WriteAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        var canary = await api.FindForTargetAsync(state.Target, cancellationToken);
        await writer.UpdateAsync(canary.Namespace, canary.Name, (raw, status) =>
        {
            // No version at all: no rollout was ever saved on this Canary (one created again for the same target
            // after a deletion), so there is nothing to conflict with; the engine's state carries on in it.
            var stored = (long?)status[VersionField];
            if (stored is not null && stored != expectedVersion) throw new RolloutConcurrencyException(state.CorrelationId, expectedVersion, stored.Value);
            CanaryStatusView.Apply(status, state, (long?)raw["metadata"]?["generation"]);
            status[StateField] = JsonSerializer.Serialize(state);
            status[VersionField] = state.Version;
        }, cancellationToken);
        _snapshots[state.CorrelationId] = state.Clone();
    }

    /// <summary>One snapshot without copying them all (the hook consumer asks on every transition).</summary>
    public async Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken)
    {
        if (clock.GetUtcNow() - _listedAt >= RelistAfter) await LoadAllAsync(cancellationToken);
        return _snapshots.GetValueOrDefault(correlationId);
    }
}

using System.Text.Json;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// <see cref="IRolloutStore"/> in the Canary's status (status subresource): the saga state as JSON in
/// <c>status.rolloutState</c>, its version in <c>status.stateVersion</c>, and beside them the fields people
/// read (phase, weight, step, checks, revisions, conditions). Two guards: the version compare gives the
/// saga its optimistic concurrency; the resourceVersion carried by the write makes read-compare-write atomic.
/// </summary>
/// Saves that only move sequential analysis' running evidence are held for a while (<see cref="EvidenceWriteThrottle"/>).
/// Sharded replicas (issue 15) keep snapshots of the rollouts of the partitions they own only: a list asks the API server
/// for those Canaries only (the partition label, as the watch does), and the snapshots of a partition this replica loses
/// are dropped as the loss is announced, so a replica's memory and its lists follow the rollouts it owns, not the cluster's.
public sealed class CanaryStatusRolloutStore : IRolloutStore
{
    public const string StateField = "rolloutState";
    public const string VersionField = "stateVersion";

    // The ticker reads every rollout every tick: serve that from snapshots kept by this replica's own
    // saves, and list the Canaries again only now and then (to see other writers, e.g. after a failover).
    private static readonly TimeSpan RelistAfter = TimeSpan.FromSeconds(30);
    // Sharded, the saga of a held partition is the only writer of its rollouts' state, and a partition gained is loaded
    // afresh (the rehydrator's fresh load): the periodic relist only catches what no event tells (a Canary deleted), so it
    // comes seldom (every 30 s, at 10,000 Canaries, each replica read 20 pages of ~1.8 MB each time; issue 15).
    private static readonly TimeSpan ShardedRelistAfter = TimeSpan.FromMinutes(5);
    private readonly Lock _listGate = new();
    private Task? _listing; // the periodic relist under way: callers that find it due meanwhile wait for it
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, RolloutState> _snapshots = new();
    private DateTimeOffset _listedAt = DateTimeOffset.MinValue;
    private readonly EvidenceWriteThrottle _throttle;
    private readonly CanaryApi api;
    private readonly CanaryStatusWriter writer;
    private readonly TimeProvider clock;
    private readonly KubernetesOptions _options;
    private readonly IPartitionOwnership _ownership;
    private volatile HashSet<int> _held = [];

    public CanaryStatusRolloutStore(CanaryApi api, CanaryStatusWriter writer, TimeProvider clock, IOptions<KubernetesOptions> options,
        IPartitionOwnership? ownership = null)
    {
        (this.api, this.writer, this.clock, _options) = (api, writer, clock, options.Value);
        _throttle = new EvidenceWriteThrottle(_options.EvidenceWriteInterval);
        _ownership = ownership ?? new WholeOwnership();
        FollowOwnership();
    }

    /// <summary>How many rollouts this replica holds a snapshot of (the benchmarks and tests read it).</summary>
    public int SnapshotCount => _snapshots.Count;

    /// <summary>Whether this replica keeps the rollout's snapshot: it held the rollout's partition at the last change of
    /// partitions (a renewal that is late but not yet given up does not drop anything: under load a list can outlast the
    /// renew deadline, and a gained partition's load must not come back empty for it), or holds it now (a gain announced
    /// to the engine just before the change reached this store).</summary>
    private bool Keeps(Guid id)
    {
        if (_ownership.Partitions <= 1) return true;
        var p = RolloutPartitions.Of(id, _ownership.Partitions);
        return _held.Contains(p) || _ownership.Owns(p);
    }

    /// <summary>At every change of the partitions held: drop what is no longer owned. The token is taken before looking,
    /// so a change that comes while dropping cancels the next token and is looked at again.</summary>
    private void FollowOwnership()
    {
        var changed = _ownership.Changed;
        if (!changed.CanBeCanceled) return;
        changed.Register(static self => ((CanaryStatusRolloutStore)self!).FollowOwnership(), this);
        _held = Enumerable.Range(0, _ownership.Partitions).Where(_ownership.Owns).ToHashSet();
        DropUnowned();
    }

    private void DropUnowned()
    {
        foreach (var id in _snapshots.Keys.Where(id => !Keeps(id)))
        {
            _snapshots.TryRemove(id, out _);
            _throttle.Forget(id);
        }
    }

    private bool RelistDue => clock.GetUtcNow() - _listedAt >= (_ownership.Partitions > 1 ? ShardedRelistAfter : RelistAfter);

    public async Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false)
    {
        if (fresh) await RelistAsync(fresh: true, cancellationToken);
        else if (RelistDue) await SharedRelistAsync(cancellationToken);
        return _snapshots.Values.ToList();
    }

    /// <summary>One periodic relist at a time: the callers that find it due while it runs wait for it. Each transition's
    /// hook consumer asks (<see cref="LoadAsync"/>), so without this a relist that outlasted a few transitions had tens of
    /// copies running side by side, each listing every Canary.</summary>
    private Task SharedRelistAsync(CancellationToken cancellationToken)
    {
        Task listing;
        lock (_listGate)
        {
            if (_listing is null || _listing.IsCompleted)
                _listing = Task.Run(() => RelistAsync(fresh: false, CancellationToken.None), CancellationToken.None);
            listing = _listing;
        }
        return listing.WaitAsync(cancellationToken);
    }

    private async Task RelistAsync(bool fresh, CancellationToken cancellationToken)
    {
        var before = _snapshots.ToArray();
        var listed = await ListStatesAsync(Keeps, cancellationToken);
        // Gone from the list: dropped, unless saved meanwhile (a rollout's first save while the list was read; the saga
        // repository loads from these snapshots, so dropping it would lose the rollout until the next list).
        foreach (var held in await GoneAsync(before.Where(h => !listed.ContainsKey(h.Key)), cancellationToken)) _snapshots.TryRemove(held);
        // A newer snapshot of this replica's wins over the listed copy, unless the engine reloads (fresh) and another
        // writer moved the durable copy since this replica's last write: a save held here (the durable copy is
        // still the version this replica wrote) stays the truth, or the rollout's next save would conflict forever.
        foreach (var (id, state) in listed)
            _snapshots.AddOrUpdate(id, state, (_, mine) => mine.Version > state.Version && (!fresh || _throttle.WroteLast(id, state.Version)) ? mine : state);
        if (fresh) _throttle.ForgetUnless(id => listed.TryGetValue(id, out var stored) && _throttle.WroteLast(id, stored.Version));
        DropUnowned(); // a partition lost while the list was read
        _listedAt = clock.GetUtcNow();
    }

    /// <summary>The rollouts of partitions just taken, read afresh; every other snapshot is left as it is (see
    /// <see cref="IRolloutStore.ReloadAsync"/>). A held save of one of them was lost with the partition: the durable copy
    /// wins, and what the throttle knew of it is forgotten.</summary>
    public async Task<int> ReloadAsync(Func<Guid, bool> which, CancellationToken cancellationToken)
    {
        var listed = await ListStatesAsync(id => which(id) && Keeps(id), cancellationToken);
        foreach (var held in await GoneAsync(_snapshots.Where(h => which(h.Key) && !listed.ContainsKey(h.Key)).ToList(), cancellationToken))
            _snapshots.TryRemove(held.Key, out _);
        foreach (var (id, state) in listed) _snapshots[id] = state;
        _throttle.ForgetUnless(id => !which(id));
        DropUnowned(); // a partition lost while the list was read
        return listed.Keys.Count(_snapshots.ContainsKey);
    }

    /// <summary>The durable saga states of the Canaries whose rollout <paramref name="selected"/> picks (those with one),
    /// among those the API server sends for <see cref="KeptSelector"/>.</summary>
    private async Task<Dictionary<Guid, RolloutState>> ListStatesAsync(Func<Guid, bool> selected, CancellationToken cancellationToken)
    {
        var listed = new Dictionary<Guid, RolloutState>();
        foreach (var stored in await CanaryStateListing.ListAsync(api.Client, _options.Namespaces, selected, cancellationToken, KeptSelector()))
            if (stored.State is { } state) listed[state.CorrelationId] = state;
        return listed;
    }

    /// <summary>Sharded: the Canaries of the partitions kept and those no owner has labelled yet, the watch's own selector
    /// (<see cref="PartitionLabel.NotOthers"/>), so that a list never sends another replica's Canaries (a third of them
    /// read instead of all, at 3 replicas). Null unsharded: every Canary.</summary>
    private string? KeptSelector() => _ownership.Partitions <= 1 ? null
        : PartitionLabel.NotOthers(Enumerable.Range(0, _ownership.Partitions).Where(p => _held.Contains(p) || _ownership.Owns(p)), _ownership.Partitions);

    /// <summary>Of the snapshots a list did not bring, those whose Canary is gone. Unsharded, the list brought every
    /// Canary: all of them. Sharded, a Canary can also be missing because its label names another partition (copied with a
    /// manifest, or written by hand; the watches mend it within seconds): each one is looked up (a GET of the Canary this
    /// replica knows for the target, or, if that is gone, the namespace's Canary names, as any lookup miss does), which
    /// deletions make rare, and kept unless no Canary targets it any more. The lookups go side by side, so that the misses
    /// of many deleted Canaries share one list of names (<see cref="CanaryApi.FindForTargetAsync"/> joins a list under way)
    /// instead of one list each, and the client's bound on requests in flight holds them. A lookup that fails keeps the
    /// snapshot: one dropped in error stops its rollout until the next list, one kept in error costs a conflict on its
    /// next save.</summary>
    private async Task<List<KeyValuePair<Guid, RolloutState>>> GoneAsync(IEnumerable<KeyValuePair<Guid, RolloutState>> unlisted, CancellationToken cancellationToken)
    {
        if (_ownership.Partitions <= 1) return unlisted.ToList();
        var looked = await Task.WhenAll(unlisted.Select(async held =>
        {
            try { await api.FindForTargetAsync(held.Value.Target, cancellationToken); return (held, Gone: false); }
            catch (CanaryNotFoundException) { return (held, Gone: true); }
            catch (Exception e) when (e is not OperationCanceledException) { return (held, Gone: false); }
        }));
        return looked.Where(l => l.Gone).Select(l => l.held).ToList();
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
        RolloutState? durable = null;
        try
        {
            await writer.UpdateAsync(canary.Namespace, canary.Name, (raw, status) =>
            {
                // No version at all: no rollout was ever saved on this Canary (one created again for the same target
                // after a deletion), so there is nothing to conflict with; the engine's state carries on in it.
                var stored = (long?)status[VersionField];
                if (stored is not null && stored != expectedVersion)
                {
                    durable = (string?)status[StateField] is { Length: > 0 } json ? JsonSerializer.Deserialize<RolloutState>(json) : null;
                    throw new RolloutConcurrencyException(state.CorrelationId, expectedVersion, stored.Value);
                }
                CanaryStatusView.Apply(status, state, (long?)raw["metadata"]?["generation"]);
                status[StateField] = JsonSerializer.Serialize(state);
                status[VersionField] = state.Version;
            }, cancellationToken);
        }
        catch (RolloutConcurrencyException) when (durable is not null && Keeps(state.CorrelationId))
        {
            // The durable copy moved on without this snapshot (a message of an earlier holding that ended late, a copy read
            // before another writer's save): the snapshot takes it, so the message's retry works from what is stored
            // rather than meeting the same conflict until the next relist.
            _snapshots[state.CorrelationId] = durable;
            throw;
        }
        _snapshots[state.CorrelationId] = state.Clone();
    }

    /// <summary>The saga repository's read, on every message: the snapshot as held, never a relist.</summary>
    public Task<RolloutState?> HeldAsync(Guid correlationId, CancellationToken cancellationToken) =>
        Task.FromResult(_snapshots.GetValueOrDefault(correlationId));

    /// <summary>One snapshot without copying them all (the hook consumer asks on every transition).</summary>
    public async Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken)
    {
        if (RelistDue) await SharedRelistAsync(cancellationToken);
        return _snapshots.GetValueOrDefault(correlationId);
    }
}

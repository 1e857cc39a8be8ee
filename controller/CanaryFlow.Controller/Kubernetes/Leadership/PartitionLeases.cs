using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using CanaryFlow.Controller.Hosting.Sharding;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// Active-active ownership of rollout partitions, one coordination.k8s.io Lease per partition
/// (<c>{LeaseName}-p{n}</c>, label <see cref="SetLabel"/>), with the same protocol and timings as the single
/// leader's <see cref="LeaseLeadership"/>: every write conditional on the resourceVersion read; a holder stops
/// acting for a partition (fence closed) when no renewal succeeded for the renew deadline, which is before any
/// other replica may take the Lease (<see cref="LeaseExpiry"/>). The API server's compare-and-swap decides every
/// race; this class only chooses which Leases to try for:
/// <list type="bullet">
/// <item>a fair share is ceil(partitions / live replicas), where the live replicas are the holders of unexpired
/// Leases, the replicas asking for one, and this one;</item>
/// <item>below its share a replica takes free or expired Leases; when none is free it asks a replica above its share
/// for one (annotation <see cref="RequestedBy"/>), and that replica hands it over: stops acting for it (fence, then
/// queue), then writes an empty holder;</item>
/// <item>a replica that stops gracefully hands all its Leases back the same way;</item>
/// <item>a partition this replica gave up because it could not serve it (<see cref="GiveUpAsync"/>) is not taken back by
/// it for three lease durations, and it marks the Lease given up (<see cref="GivenUpBy"/>): such a Lease, or one left
/// free for a whole lease duration after it became takeable, is taken by any replica, even one at its share: otherwise,
/// with every other replica at its share, the one that could not serve the partition would be the only one to take it
/// back (kill run t2).</item>
/// </list>
/// </summary>
public sealed class PartitionLeases : BackgroundService, IPartitionOwnership
{
    public const string SetLabel = "canaryflow.dev/partition-set";
    public const string RequestedBy = "canaryflow.dev/requested-by";
    public const string GivenUpBy = "canaryflow.dev/given-up-by";

    private readonly IKubernetes _client;
    private readonly KubernetesOptions _o;
    private readonly TimeProvider _time;
    private readonly ILogger<PartitionLeases> _logger;
    private readonly TimeSpan _trust;
    private readonly int _partitions;
    private readonly ConcurrentDictionary<int, DateTimeOffset> _renewedAt = new(); // held partitions: last successful write
    private readonly Dictionary<int, (string? Version, DateTimeOffset At)> _sightings = [];
    private readonly Channel<PartitionChange> _changes = Channel.CreateUnbounded<PartitionChange>();
    private readonly Lock _gate = new();
    private CancellationTokenSource _changed = new();
    private readonly List<Task> _handOvers = [];
    private readonly ConcurrentDictionary<int, byte> _handingOver = new();
    private readonly ConcurrentDictionary<int, DateTimeOffset> _shunnedUntil = new(); // partitions given up as unservable

    private readonly EngineReady _engineReady;

    public PartitionLeases(IKubernetes client, IOptions<KubernetesOptions> options, IOptions<ShardingOptions> sharding, WriteFence fence,
        TimeProvider time, ILogger<PartitionLeases> logger, EngineReady engineReady)
    {
        _engineReady = engineReady;
        (_client, _o, _time, _logger) = (client, options.Value, time, logger);
        _trust = LeaseExpiry.Trust(_o);
        _partitions = sharding.Value.Partitions;
        Identity = _o.Identity ?? $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";
        fence.FenceByPartition(Owns);
    }

    public string Identity { get; }
    public int Partitions => _partitions;
    public ChannelReader<PartitionChange> Changes => _changes.Reader;
    public CancellationToken Changed { get { lock (_gate) return _changed.Token; } }

    public bool Owns(int partition) =>
        _renewedAt.TryGetValue(partition, out var renewed) && _time.GetUtcNow() < renewed + _o.RenewDeadline;

    public async Task GiveUpAsync(int partition)
    {
        _shunnedUntil[partition] = _time.GetUtcNow() + 3 * _o.LeaseDuration;
        var held = _renewedAt.ContainsKey(partition);
        await LoseAsync(partition);
        if (held) await MarkGivenUpAsync(partition);
    }

    /// <summary>Says on the Lease that its holder gave it up, so that a replica at its share takes it as soon as it
    /// expires rather than a lease duration later. The Lease is not emptied: whatever this replica still had in flight
    /// for the partition must end before another replica may act, and the expiry is what guarantees that. Best effort:
    /// unmarked, the Lease is taken a lease duration later.</summary>
    private async Task MarkGivenUpAsync(int p)
    {
        using var timeout = new CancellationTokenSource(_o.RenewDeadline);
        try
        {
            var lease = await _client.CoordinationV1.ReadNamespacedLeaseAsync(LeaseName(p), _o.LeaseNamespace, cancellationToken: timeout.Token);
            if (Holder(lease) != Identity) return;
            (lease.Metadata.Annotations ??= new Dictionary<string, string>())[GivenUpBy] = Identity;
            await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, lease.Metadata.Name, _o.LeaseNamespace, cancellationToken: timeout.Token);
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException)
        {
            _logger.LogInformation("{Identity} could not mark partition {Partition} given up ({Error}); it is taken a lease duration after it expires",
                Identity, p, e.Message);
        }
    }

    /// <summary>The holder itself gave this Lease up (<see cref="GivenUpBy"/>).</summary>
    private static bool GivenUpByHolder(V1Lease lease) =>
        lease.Metadata.Annotations?.TryGetValue(GivenUpBy, out var by) == true && by.Length > 0 && by == Holder(lease);

    private bool Shunned(int partition, DateTimeOffset now) => _shunnedUntil.TryGetValue(partition, out var until) && now < until;

    public string LeaseName(int partition) => $"{_o.LeaseName}-p{partition}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try { await _engineReady.WaitAsync(stoppingToken); }
        catch (OperationCanceledException) { return; }
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RoundAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                // Whatever failed (API down, circuit open), try again next round; held partitions stay fenced by time.
                _logger.LogWarning("Partition leases of {Identity}: {Error}", Identity, e.Message);
            }
            try { await Task.Delay(Jittered(_o.RetryPeriod), _time, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
        await HandBackAllAsync();
    }

    /// <summary>One round: give up what is overdue, renew what is held, then move towards a fair share.</summary>
    private async Task RoundAsync(CancellationToken ct)
    {
        foreach (var p in _renewedAt.Keys.Where(p => !Owns(p)).ToList())
        {
            _logger.LogWarning("{Identity} could not renew partition {Partition} within {Deadline}", Identity, p, _o.RenewDeadline);
            await LoseAsync(p);
        }

        var leases = await ListAsync(ct);
        var now = _time.GetUtcNow();
        foreach (var p in Enumerable.Range(0, _partitions).Where(p => !leases.ContainsKey(p)))
            if (await WriteAsync(p, null, holder: "", now, ct) is { } created) leases[p] = created;

        // The renewed Leases replace the listed ones: a hand-over below writes on top of the renewal, conditional on its
        // resourceVersion (the listed one would only meet a 409).
        // A partition being handed over is not renewed: the hand-over writes on top of the version it read.
        var renewed = await Task.WhenAll(_renewedAt.Keys.Where(p => !_handingOver.ContainsKey(p)).ToList().Select(async p => (p, Lease: await RenewAsync(p, leases.GetValueOrDefault(p), ct))));
        foreach (var (p, lease) in renewed)
            if (lease is not null) leases[p] = lease;

        now = _time.GetUtcNow();
        var live = new HashSet<string> { Identity };
        var counts = new Dictionary<string, int>();
        foreach (var (p, lease) in leases)
        {
            if (lease.Metadata.ResourceVersion != _sightings.GetValueOrDefault(p).Version) _sightings[p] = (lease.Metadata.ResourceVersion, now);
            if (Holder(lease) is { Length: > 0 } h && now < TakeableAt(p, lease))
            {
                live.Add(h);
                counts[h] = counts.GetValueOrDefault(h) + 1;
            }
            if (Requester(lease, now) is { } r) live.Add(r);
        }
        var share = (_partitions + live.Count - 1) / live.Count;
        var floor = _partitions / live.Count;

        // Asked for a partition while above the floor of a fair share: hand it over, beside this loop (renewing the
        // other partitions must not wait for a queue to stop).
        foreach (var (p, lease) in leases.Where(l => Owns(l.Key)))
        {
            if (_renewedAt.Count - _handingOver.Count <= floor) break;
            if (Requester(lease, now) is { } r && r != Identity && _handingOver.TryAdd(p, 0)) _handOvers.Add(HandOverAsync(p, lease, ct));
        }
        _handOvers.RemoveAll(t => t.IsCompleted);

        // A few at a time: replicas that start together see each other before one of them has taken everything.
        var mine = _renewedAt.Count;
        var (takeable, taken) = (Math.Max(1, (_partitions + 3) / 4), 0);
        foreach (var (p, lease) in leases.OrderBy(_ => Random.Shared.Next()))
        {
            if (taken >= takeable) break;
            if (_renewedAt.ContainsKey(p) || Shunned(p, now)) continue;
            var empty = string.IsNullOrEmpty(Holder(lease));
            var free = empty || now >= TakeableAt(p, lease);
            var askedByOther = Requester(lease, now) is { } r && r != Identity;
            if (!free || askedByOther) continue;
            // At its share a replica takes only a Lease nobody below their share took for a lease duration.
            var unclaimed = now >= (empty ? _sightings.GetValueOrDefault(p).At : TakeableAt(p, lease)) + _o.LeaseDuration || GivenUpByHolder(lease);
            if (mine >= share && !unclaimed) continue;
            if (await WriteAsync(p, lease, Identity, now, ct) is not null) { await GainAsync(p, now); mine++; taken++; }
        }

        // Nothing free and still short of the floor: ask replicas with more than one partition above this one's count
        // (each asked once; the request lives one lease duration).
        var asked = leases.Values.Count(l => Requester(l, now) == Identity);
        foreach (var (p, lease) in leases.OrderBy(_ => Random.Shared.Next()))
        {
            if (mine + asked >= floor) break;
            if (Holder(lease) is not { Length: > 0 } holder || holder == Identity || counts.GetValueOrDefault(holder) <= mine + asked + 1) continue;
            if (Shunned(p, now)) continue;
            if (Requester(lease, now) is not null) continue;
            lease.Metadata.Annotations ??= new Dictionary<string, string>();
            lease.Metadata.Annotations[RequestedBy] = $"{Identity} {now.ToUnixTimeMilliseconds()}";
            try
            {
                await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, lease.Metadata.Name, _o.LeaseNamespace, cancellationToken: ct);
                counts[holder]--;
                asked++;
                _logger.LogInformation("{Identity} asks {Holder} for partition {Partition}", Identity, holder, p);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { } // asked again next round
        }
    }

    /// <returns>The Lease as written, or null when it was not renewed.</returns>
    private async Task<V1Lease?> RenewAsync(int p, V1Lease? lease, CancellationToken ct)
    {
        if (lease is null || Holder(lease) != Identity)
        {
            await LoseAsync(p); // taken, deleted or emptied by someone else: stop acting now
            return null;
        }
        var attempt = _time.GetUtcNow();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(_o.RenewDeadline);
        try
        {
            var written = await WriteAsync(p, lease, Identity, attempt, bounded.Token);
            // Only a partition still held: one given up or lost while this write was in flight stays lost. Setting it
            // back would reopen the fence for a partition whose engine was told it is gone (a CI run saw a given-up
            // partition held again by the replica that gave it up, its renewal having been in flight under load).
            if (written is not null && _renewedAt.TryGetValue(p, out var before)) _renewedAt.TryUpdate(p, attempt, before);
            return written;
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is HttpOperationException or HttpRequestException or OperationCanceledException)
        {
            _logger.LogInformation("{Identity} failed to renew partition {Partition} ({Error}); retrying until the renew deadline", Identity, p, e.Message);
            return null;
        }
    }

    /// <summary>Steps down from a partition (<see cref="StepDownAsync"/>), then empties its holder so that the replica
    /// that asked takes it at its next round; when the queue did not stop in time, the Lease is left to expire.</summary>
    private async Task HandOverAsync(int p, V1Lease lease, CancellationToken ct)
    {
        try
        {
            _logger.LogInformation("{Identity} hands partition {Partition} over", Identity, p);
            if (!await StepDownAsync(p)) return;
            try { await WriteAsync(p, lease, holder: "", _time.GetUtcNow(), ct); }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException) { } // it expires on its own
        }
        finally { _handingOver.TryRemove(p, out _); }
    }

    private async Task HandBackAllAsync()
    {
        await Task.WhenAll(_handOvers); // each ends by itself (bounded waits, errors caught)
        using var timeout = new CancellationTokenSource(_o.RenewDeadline);
        try
        {
            var leases = await ListAsync(timeout.Token);
            await Task.WhenAll(_renewedAt.Keys.ToList().Select(async p =>
            {
                if (await StepDownAsync(p) && leases.GetValueOrDefault(p) is { } lease && Holder(lease) == Identity)
                    await WriteAsync(p, lease, holder: "", _time.GetUtcNow(), timeout.Token);
            }));
            _logger.LogInformation("{Identity} handed its partitions back", Identity);
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or OperationCanceledException)
        {
            _logger.LogInformation("{Identity} could not hand its partitions back ({Error}); they expire on their own", Identity, e.Message);
        }
    }

    /// <summary>
    /// Gives a partition up on purpose (asked for it, or stopping): the queue first, while the Lease is still held, so
    /// that the checks and commands in flight finish and their results leave before the fence closes; then the fence.
    /// True when the queue stopped in time (within half the renew deadline; the Lease is not renewed meanwhile), and only
    /// then may the Lease be handed over at once: what this replica consumed from the partition is then all in the
    /// queue, ahead of the next holder's barrier (<see cref="PartitionHolding"/>).
    /// </summary>
    private async Task<bool> StepDownAsync(int p)
    {
        if (!_renewedAt.ContainsKey(p)) return false;
        var change = new PartitionChange(p, Held: false);
        await Publish(change);
        var stopped = _engineReady.Stopped ||
                      await change.Done.Task.WaitAsync(_o.RenewDeadline / 2).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default);
        if (!_renewedAt.TryRemove(p, out _)) return false; // lost meanwhile (renew deadline): left to expire
        _logger.LogWarning("{Identity} gave up partition {Partition}{Stopped}", Identity, p, stopped ? "" : " (its queue still stopping: left to expire)");
        return stopped || _engineReady.Stopped;
    }

    private async Task GainAsync(int p, DateTimeOffset renewedAt)
    {
        _renewedAt[p] = renewedAt;
        _logger.LogInformation("{Identity} holds partition {Partition}", Identity, p);
        await Publish(new PartitionChange(p, Held: true));
    }

    /// <summary>Stops acting for a partition now, not in good order (its renewals failed, or it was taken): the fence
    /// closes at once (the partition leaves <see cref="_renewedAt"/>), then the engine stops its queue. What was in
    /// flight cannot write nor send any more (<see cref="Hosting.Sharding.PartitionPublishFence"/>), so it goes back into
    /// the queue for the next holder.</summary>
    private async Task LoseAsync(int p)
    {
        if (!_renewedAt.TryRemove(p, out _)) return;
        _logger.LogWarning("{Identity} lost partition {Partition}", Identity, p);
        await Publish(new PartitionChange(p, Held: false));
    }

    private async Task Publish(PartitionChange change)
    {
        await _changes.Writer.WriteAsync(change);
        CancellationTokenSource ended;
        lock (_gate) (ended, _changed) = (_changed, new CancellationTokenSource());
        await ended.CancelAsync();
        ended.Dispose();
    }

    private async Task<Dictionary<int, V1Lease>> ListAsync(CancellationToken ct)
    {
        var list = await _client.CoordinationV1.ListNamespacedLeaseAsync(_o.LeaseNamespace, labelSelector: $"{SetLabel}={_o.LeaseName}", cancellationToken: ct);
        var prefix = _o.LeaseName + "-p";
        var leases = new Dictionary<int, V1Lease>();
        foreach (var lease in list.Items)
            if (lease.Metadata.Name.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(lease.Metadata.Name[prefix.Length..], out var p) && p < _partitions)
                leases[p] = lease;
        return leases;
    }

    /// <summary>Creates (<paramref name="read"/> null) or replaces a partition's Lease, conditional on the version read;
    /// null when another writer got there first (409).</summary>
    private Task<V1Lease?> WriteAsync(int p, V1Lease? read, string holder, DateTimeOffset now, CancellationToken ct)
    {
        var lease = LeaseRecord.For(LeaseName(p), _o.LeaseNamespace, read, holder, now, _o.LeaseDuration);
        (lease.Metadata.Labels ??= new Dictionary<string, string>())[SetLabel] = _o.LeaseName;
        lease.Metadata.Annotations ??= new Dictionary<string, string>();
        if (holder.Length > 0 && Holder(read) != holder) lease.Metadata.Annotations.Remove(RequestedBy); // taken: the request is answered
        if (holder.Length == 0 || !_renewedAt.ContainsKey(p)) lease.Metadata.Annotations.Remove(GivenUpBy); // taken or emptied, not renewed
        return LeaseRecord.WriteAsync(_client, lease, read is null, ct);
    }

    private DateTimeOffset TakeableAt(int p, V1Lease lease) => LeaseRecord.TakeableAt(lease, _o.LeaseDuration, _sightings.GetValueOrDefault(p).At, _trust);

    private static string? Holder(V1Lease? lease) => lease?.Spec?.HolderIdentity;

    /// <summary>Who asked for this Lease, while the request is fresh (one lease duration).</summary>
    private string? Requester(V1Lease lease, DateTimeOffset now)
    {
        string? value = null;
        if (lease.Metadata.Annotations?.TryGetValue(RequestedBy, out value) != true || value is null) return null;
        var parts = value.Split(' ');
        return parts.Length == 2 && long.TryParse(parts[1], out var ms) && now - DateTimeOffset.FromUnixTimeMilliseconds(ms) < _o.LeaseDuration ? parts[0] : null;
    }

    private static TimeSpan Jittered(TimeSpan period) => LeaseRecord.Jittered(period);
}

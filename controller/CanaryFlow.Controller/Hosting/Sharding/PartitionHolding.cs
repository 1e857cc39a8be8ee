using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// One term of this replica consuming one partition's queue. Right after connecting the queue the replica sends a
/// <see cref="PartitionTaken"/> marker into it; the queue delivers in order, so when the marker arrives (delivery tag
/// m) every message sent into the partition before it has been delivered with a lower tag. The barrier passes once each
/// of those has been consumed to the end (a check result taken into the saga's state, a check run and its result sent),
/// and only then does the ticker act for the partition. A check result the previous holder sent therefore reaches the
/// saga before this replica's ticker looks at the rollout; a check the previous holder had asked for and not run is
/// still in the queue, and runs here once (<see cref="Checks"/> drops this ticker's copy).
/// </summary>
public sealed class PartitionHolding(int partition, CheckTokens checks, TimeProvider time)
{
    private long _heardAt = time.GetUtcNow().UtcTicks;
    private int _heartbeatInFlight;

    private readonly TaskCompletionSource _barrier = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private readonly HashSet<ulong> _delivered = [];
    private readonly Dictionary<ulong, int> _running = [];
    private readonly HashSet<ulong> _handedBack = [];

    public int Partition => partition;
    public Guid Id { get; } = Guid.NewGuid();
    public CheckTokens Checks => checks;

    /// <summary>The ticker may act for this partition's rollouts.</summary>
    public bool Acting => _barrier.Task.IsCompleted;

    public Task Barrier => _barrier.Task;

    /// <summary>True the first time for a delivery: it goes back into the queue once, however many consumers it has.</summary>
    public bool HandingBack(ulong tag)
    {
        lock (_gate) return _handedBack.Add(tag);
    }

    /// <summary>When the queue last gave this holding anything (a message, the marker, a heartbeat); the holding's start
    /// before that.</summary>
    public DateTimeOffset HeardAt => new(Interlocked.Read(ref _heardAt), TimeSpan.Zero);

    public void Heard() => Interlocked.Exchange(ref _heardAt, time.GetUtcNow().UtcTicks);

    /// <summary>True for the caller that may send the next heartbeat: one at a time, however long a send hangs.</summary>
    public bool StartHeartbeat() => Interlocked.CompareExchange(ref _heartbeatInFlight, 1, 0) == 0;

    public void HeartbeatSent() => Volatile.Write(ref _heartbeatInFlight, 0);

    /// <summary>A message (delivery <paramref name="tag"/>) starts being consumed; tracked until the barrier passed.</summary>
    public void Started(ulong tag)
    {
        if (Acting) return;
        lock (_gate)
        {
            _delivered.Add(tag);
            _running[tag] = _running.GetValueOrDefault(tag) + 1;
        }
    }

    public void Ended(ulong tag)
    {
        lock (_gate)
            if (_running.TryGetValue(tag, out var n)) { if (n <= 1) _running.Remove(tag); else _running[tag] = n - 1; }
    }

    /// <summary>The marker arrived with delivery tag <paramref name="marker"/>: waits until every earlier delivery on this
    /// queue's channel (tags 1 .. marker−1) has been consumed, then lets the ticker act.</summary>
    public async Task PassAsync(ulong marker, CancellationToken cancellationToken)
    {
        while (!Drained(marker)) await Task.Delay(10, cancellationToken);
        Act();
    }

    /// <summary>Acts without the barrier: the marker did not come back in time (a message that never reached the
    /// consume pipe, a channel recovered with fresh delivery tags); logged by the caller.</summary>
    public void Act()
    {
        _barrier.TrySetResult();
        lock (_gate) { _delivered.Clear(); _running.Clear(); }
    }

    private bool Drained(ulong marker)
    {
        lock (_gate)
            return (ulong)_delivered.Count(t => t < marker) >= marker - 1 && !_running.Keys.Any(t => t < marker);
    }
}

using System.Collections.Concurrent;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>The kinds of message the ticker sends again while unanswered. A stall is answered by its command: the saga
/// re-sends the command when it takes the stall, so the command's copy is the one that must not be doubled.</summary>
public enum AskKind { Analysis, Gate, Command, Deadline, Admission }

/// <summary>
/// When this process last finished consuming each kind of the ticker's asks, per rollout. The ticker sends an unanswered
/// ask again only once its last copy was taken off the queue; before that, another copy would only queue behind it. Time
/// alone cannot tell a copy answered "not yet" from one still queued (issue 15: at 10,000 Canaries over 3 replicas the
/// time-based repeats, back-off and all, filled the partition queues with ~105,000 copies, and every answer waited behind
/// them). In memory on purpose: a restarted process knows nothing of the queue and re-says everything once.
/// Sharded, a partition's queue is first in, first out: once this process has taken from it a message sent after a copy,
/// the copy is no longer in it either (taken, or lost: a publish cut short by a crash, a previous holder's last ask), so
/// <see cref="TakenSince"/> is also true, and a copy lost is sent again on time, without waiting for
/// <see cref="RolloutEngineOptions.ResendUntakenAfter"/>.
/// </summary>
/// <param name="partitions">Sharding's partition count; 0 when not sharded (the consumers' queues are not per rollout).</param>
public sealed class AsksTaken(TimeProvider clock, int partitions = 0)
{
    private readonly ConcurrentDictionary<(Guid Id, AskKind Kind), long> _takenAt = new();
    private readonly long[] _drainedUpTo = new long[partitions]; // per partition: the latest send time of a message taken
    private readonly long[] _movedAt = new long[partitions]; // per partition: when that last grew (this process's clock)

    /// <summary>Order across replicas' clocks and publishes in flight: a message sent this much after a copy may still
    /// have been queued before it.</summary>
    private static readonly long Slack = TimeSpan.TicksPerSecond;

    public bool Sharded => partitions > 0;

    /// <summary>Records that this process took from partition <paramref name="partition"/>'s queue a message sent at
    /// <paramref name="sentAt"/> (any message: a rollout's own asks may be rare, the queue's traffic is not).</summary>
    public void Drained(int partition, DateTime sentAt)
    {
        if ((uint)partition >= (uint)_drainedUpTo.Length) return;
        var ticks = sentAt.Ticks;
        var seen = Volatile.Read(ref _drainedUpTo[partition]);
        while (ticks > seen)
        {
            var was = Interlocked.CompareExchange(ref _drainedUpTo[partition], ticks, seen);
            if (was == seen)
            {
                Volatile.Write(ref _movedAt[partition], clock.GetUtcNow().UtcTicks);
                return;
            }
            seen = was;
        }
    }

    /// <summary>Records that a consumed message (answered or failed) was one of the ticker's asks.</summary>
    public void Consumed(object message)
    {
        if (Classify(message) is ({ } id, { } kind)) _takenAt[(id, kind)] = clock.GetUtcNow().UtcTicks;
    }

    /// <summary>A publish that failed may or may not have reached the queue: count nothing of its rollout as queued, so the
    /// ticker's back-off alone decides the next copy, as it did before this ledger.</summary>
    public void MaybeNotSent(object message)
    {
        if (Classify(message) is not ({ } id, _)) return;
        var now = clock.GetUtcNow().UtcTicks;
        foreach (var kind in Enum.GetValues<AskKind>()) _takenAt[(id, kind)] = now;
    }

    /// <summary>Whether a copy sent at <paramref name="since"/> is no longer queued: taken by this process, or, sharded,
    /// passed in its partition's queue.</summary>
    public bool TakenSince(Guid id, AskKind kind, DateTimeOffset since) =>
        _takenAt.TryGetValue((id, kind), out var at) && at >= since.UtcTicks ||
        Sharded && Volatile.Read(ref _drainedUpTo[Hosting.Sharding.RolloutPartitions.Of(id, partitions)]) >= since.UtcTicks + Slack;

    /// <summary>
    /// Whether a copy sent at <paramref name="sentAt"/> is, as far as this process can tell, still waiting in its queue.
    /// A copy not seen taken is presumed lost once <paramref name="giveUpAfter"/> has passed since it was sent and, sharded,
    /// since its partition's queue last moved: a queue that moves will reach it, however deep it is.
    /// </summary>
    public bool StillQueued(Guid id, AskKind kind, DateTimeOffset sentAt, DateTimeOffset now, TimeSpan giveUpAfter)
    {
        if (TakenSince(id, kind, sentAt)) return false;
        var waitingSince = sentAt.UtcTicks;
        if (Sharded) waitingSince = Math.Max(waitingSince, Volatile.Read(ref _movedAt[Hosting.Sharding.RolloutPartitions.Of(id, partitions)]));
        return now.UtcTicks < waitingSince + giveUpAfter.Ticks;
    }

    /// <summary>Forgets the rollouts the ticker no longer watches (at rest, gone, or in a partition another replica holds).
    /// An entry a minute old at least: a command can be consumed before its new rollout's state is first stored.</summary>
    public void Retain(IReadOnlySet<Guid> watched)
    {
        var before = clock.GetUtcNow().UtcTicks - TimeSpan.TicksPerMinute;
        foreach (var entry in _takenAt) // the dictionary's own enumerator: no copy of 10,000 keys every tick
            if (entry.Value < before && !watched.Contains(entry.Key.Id)) _takenAt.TryRemove(entry.Key, out _);
    }

    /// <summary>How many entries are kept (for tests).</summary>
    public int Count => _takenAt.Count;

    private static (Guid?, AskKind?) Classify(object message) => message switch
    {
        AnalysisDue m => (m.CorrelationId, AskKind.Analysis),
        // The pre-rollout hooks are the check before the first step (TickPolicy); the others are a gate's.
        HooksDue m => (m.CorrelationId, m.Type == HookTypes.PreRollout ? AskKind.Analysis : AskKind.Gate),
        PrepareCanary m => (m.CorrelationId, AskKind.Command),
        SetCanaryWeight m => (m.CorrelationId, AskKind.Command),
        PromoteCanary m => (m.CorrelationId, AskKind.Command),
        RollBackCanary m => (m.CorrelationId, AskKind.Command),
        ProgressDeadlineExceeded m => (m.CorrelationId, AskKind.Deadline),
        AdmitRollout m => (m.CorrelationId, AskKind.Admission),
        _ => (null, null),
    };
}

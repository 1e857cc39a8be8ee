using System.Collections.Concurrent;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>The kinds of message the ticker sends again while unanswered. A stall is answered by its command: the saga
/// re-sends the command when it takes the stall, so the command's copy is the one that must not be doubled.</summary>
public enum AskKind { Analysis, Gate, Command, Deadline }

/// <summary>
/// When this process last finished consuming each kind of the ticker's asks, per rollout. The ticker sends an unanswered
/// ask again only once its last copy was taken off the queue; before that, another copy would only queue behind it. Time
/// alone cannot tell a copy answered "not yet" from one still queued (issue 15: at 10,000 Canaries over 3 replicas the
/// time-based repeats, back-off and all, filled the partition queues with ~105,000 copies, and every answer waited behind
/// them). In memory on purpose: a restarted process knows nothing of the queue and re-says everything once.
/// </summary>
public sealed class AsksTaken(TimeProvider clock)
{
    private readonly ConcurrentDictionary<(Guid Id, AskKind Kind), long> _takenAt = new();

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

    public bool TakenSince(Guid id, AskKind kind, DateTimeOffset since) =>
        _takenAt.TryGetValue((id, kind), out var at) && at >= since.UtcTicks;

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
        _ => (null, null),
    };
}

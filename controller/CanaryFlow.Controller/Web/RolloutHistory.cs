using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Web;

/// <summary>
/// The recent transitions of each rollout, for the status API, page and reports (in memory, bounded twice). A running
/// rollout keeps its last <see cref="Keep"/> transitions; a finished one keeps them only while it is among the
/// <see cref="KeepFinished"/> most recently finished (issue 15: with 10,000 Canaries mostly at rest, their timelines
/// were most of the memory per Canary). Beyond that its timeline is dropped: the status API still shows the rollout
/// from the durable store, and its report was written when it finished. Consecutive transitions share their
/// unchanged parts (target, revisions, phase names, evidence) instead of keeping a deserialised copy each.
/// </summary>
public sealed class RolloutHistory(int keepFinished = RolloutHistory.KeepFinished)
{
    public const int Keep = 200;
    public const int KeepFinished = 256;

    // One lock: an add is a few field compares, and eviction must see a rollout's queue and the finished order together.
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, Queue<RolloutTransitioned>> _byTarget = new();
    private readonly Dictionary<Guid, Queue<HookCompleted>> _hooks = new();
    private readonly Queue<(Guid Id, Guid RolloutId, long Version)> _finished = new();

    /// <summary>A hook's outcome, for the timeline (bounded as the transitions are).</summary>
    public void Add(HookCompleted h)
    {
        lock (_lock) Bounded(_hooks, h.CorrelationId).Enqueue(h);
    }

    public IReadOnlyList<HookCompleted> HooksFor(Guid correlationId)
    {
        lock (_lock) return _hooks.TryGetValue(correlationId, out var q) ? q.ToList() : [];
    }

    public void Add(RolloutTransitioned t)
    {
        lock (_lock)
        {
            var q = Bounded(_byTarget, t.CorrelationId);
            RolloutTransitioned? last = null;
            foreach (var x in q)
            {
                if (x.RolloutId == t.RolloutId && x.Version == t.Version) return; // redelivered
                last = x;
            }
            q.Enqueue(Share(t, last));
            if (t.FromPhase != t.Phase && t.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed)
            {
                _finished.Enqueue((t.CorrelationId, t.RolloutId, t.Version));
                while (_finished.Count > keepFinished) Forget(_finished.Dequeue());
                TrimWhenMostlyEmpty(_byTarget);
                TrimWhenMostlyEmpty(_hooks);
            }
        }
    }

    public IReadOnlyList<RolloutTransitioned> For(Guid correlationId)
    {
        lock (_lock) return _byTarget.TryGetValue(correlationId, out var q) ? q.ToList() : [];
    }

    /// <summary>Rollouts whose timeline is in memory (running, or among the recently finished).</summary>
    public int Count
    {
        get { lock (_lock) return _byTarget.Count; }
    }

    private Queue<T> Bounded<T>(Dictionary<Guid, Queue<T>> all, Guid id)
    {
        if (!all.TryGetValue(id, out var q)) all[id] = q = new Queue<T>();
        while (q.Count >= Keep) q.Dequeue();
        return q;
    }

    /// <summary>A dictionary keeps the room of its largest size (10,000 rollouts running at once, then at rest):
    /// give it back once three quarters of it are unused.</summary>
    private static void TrimWhenMostlyEmpty<T>(Dictionary<Guid, T> all)
    {
        if (all.EnsureCapacity(0) > 4 * Math.Max(KeepFinished, all.Count)) all.TrimExcess();
    }

    /// <summary>Drops a finished rollout's timeline, unless its target has moved on since (a newer rollout is running,
    /// and is counted when it finishes).</summary>
    private void Forget((Guid Id, Guid RolloutId, long Version) finished)
    {
        if (!_byTarget.TryGetValue(finished.Id, out var q) || q.Count == 0) return;
        var last = q.Last();
        if (last.RolloutId != finished.RolloutId || last.Version != finished.Version) return;
        _byTarget.Remove(finished.Id);
        _hooks.Remove(finished.Id);
    }

    /// <summary>The transition, pointing at the previous one's equal parts (one copy kept instead of one per transition).</summary>
    private static RolloutTransitioned Share(RolloutTransitioned t, RolloutTransitioned? last) => t with
    {
        Target = last != null && last.Target == t.Target ? last.Target : t.Target,
        Revision = last != null && last.Revision == t.Revision ? last.Revision : t.Revision,
        StableRevision = last != null && last.StableRevision == t.StableRevision ? last.StableRevision : t.StableRevision,
        FromPhase = string.IsInterned(t.FromPhase) ?? t.FromPhase, // the phase names are literals
        Phase = string.IsInterned(t.Phase) ?? t.Phase,
        LastAnalysis = last?.LastAnalysis is { } e && t.LastAnalysis is { } n && e.Summary == n.Summary && e.Metrics.SequenceEqual(n.Metrics)
            ? e : t.LastAnalysis,
    };
}

public sealed class RolloutHistoryConsumer(RolloutHistory history) : IConsumer<RolloutTransitioned>, IConsumer<HookCompleted>
{
    public Task Consume(ConsumeContext<HookCompleted> context)
    {
        history.Add(context.Message);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<RolloutTransitioned> context)
    {
        history.Add(context.Message);
        return Task.CompletedTask;
    }
}

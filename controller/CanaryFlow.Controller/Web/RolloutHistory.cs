using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Web;

/// <summary>The recent transitions of each rollout, for the status API and page (bounded, in memory).</summary>
public sealed class RolloutHistory
{
    private const int Keep = 200;
    private readonly ConcurrentDictionary<Guid, Queue<RolloutTransitioned>> _byTarget = new();
    private readonly ConcurrentDictionary<Guid, Queue<HookCompleted>> _hooks = new();

    /// <summary>A hook's outcome, for the timeline (bounded as the transitions are).</summary>
    public void Add(HookCompleted h)
    {
        var q = _hooks.GetOrAdd(h.CorrelationId, _ => new Queue<HookCompleted>());
        lock (q)
        {
            q.Enqueue(h);
            while (q.Count > Keep) q.Dequeue();
        }
    }

    public IReadOnlyList<HookCompleted> HooksFor(Guid correlationId)
    {
        if (!_hooks.TryGetValue(correlationId, out var q)) return [];
        lock (q) return q.ToList();
    }

    public void Add(RolloutTransitioned t)
    {
        var q = _byTarget.GetOrAdd(t.CorrelationId, _ => new Queue<RolloutTransitioned>());
        lock (q)
        {
            if (q.Any(x => x.RolloutId == t.RolloutId && x.Version == t.Version)) return; // redelivered
            q.Enqueue(t);
            while (q.Count > Keep) q.Dequeue();
        }
    }

    public IReadOnlyList<RolloutTransitioned> For(Guid correlationId)
    {
        if (!_byTarget.TryGetValue(correlationId, out var q)) return [];
        lock (q) return q.ToList();
    }
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

using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Web;

/// <summary>The recent transitions of each rollout, for the status API and page (bounded, in memory).</summary>
public sealed class RolloutHistory
{
    private const int Keep = 200;
    private readonly ConcurrentDictionary<Guid, Queue<RolloutTransitioned>> _byTarget = new();

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

public sealed class RolloutHistoryConsumer(RolloutHistory history) : IConsumer<RolloutTransitioned>
{
    public Task Consume(ConsumeContext<RolloutTransitioned> context)
    {
        history.Add(context.Message);
        return Task.CompletedTask;
    }
}

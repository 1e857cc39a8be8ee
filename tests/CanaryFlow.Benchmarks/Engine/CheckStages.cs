using System.Collections.Concurrent;
using System.Diagnostics;
using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Benchmarks.Engine;

/// <summary>
/// Where a check's way to its weight goes, in three stages: the worker (check started → its verdict published), the bus
/// (published → the saga's delivery of it begins: the broker's trip and the saga endpoint's queue) and the saga (delivery →
/// weight applied: load, state machine, the weight write). For the slowest 1 % of checks too, which is the p99.
/// </summary>
public sealed class CheckStages : IPublishObserver, IConsumeObserver
{
    private readonly ConcurrentDictionary<Guid, long> _published = new();
    private readonly ConcurrentDictionary<Guid, long> _delivered = new();
    private readonly ConcurrentBag<(double Worker, double Bus, double Saga)> _samples = [];

    public void Connect(IBus bus)
    {
        bus.ConnectPublishObserver(this);
        bus.ConnectConsumeObserver(this);
    }

    /// <summary>Called with a step's weight applied, and the check's start: splits the time between them.</summary>
    public void WeightApplied(RolloutTarget target, long checkStarted, long applied)
    {
        var id = RolloutIds.ForTarget(target);
        var wasPublished = _published.TryRemove(id, out var published);
        var wasDelivered = _delivered.TryRemove(id, out var delivered); // both taken, so that no stamp outlives its step
        if (!wasPublished || !wasDelivered) return;
        if (published < checkStarted || delivered < published || applied < delivered) return; // an earlier check's stamps
        _samples.Add((Ms(checkStarted, published), Ms(published, delivered), Ms(delivered, applied)));
    }

    public string Summary()
    {
        var all = _samples.ToArray();
        if (all.Length == 0) return "check stages: no samples";
        var slowest = all.OrderByDescending(s => s.Worker + s.Bus + s.Saga).Take(Math.Max(1, all.Length / 100)).ToArray();
        string P(Func<(double Worker, double Bus, double Saga), double> f)
        {
            var sorted = all.Select(f).Order().ToArray();
            return $"{EngineLoad.Percentile(sorted, 0.5):F1} / {EngineLoad.Percentile(sorted, 0.99):F1}";
        }
        return $"check stages ({all.Length} steps), p50 / p99 ms: worker {P(s => s.Worker)}, bus {P(s => s.Bus)}, saga {P(s => s.Saga)}; " +
               $"the slowest 1 % ({slowest.Length}), mean ms: worker {slowest.Average(s => s.Worker):F1}, bus {slowest.Average(s => s.Bus):F1}, " +
               $"saga {slowest.Average(s => s.Saga):F1}";
    }

    public void Forget()
    {
        _published.Clear();
        _delivered.Clear();
        _samples.Clear();
    }

    private static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    public Task PrePublish<T>(PublishContext<T> context) where T : class
    {
        if (context.Message is AnalysisPassed passed) _published[passed.CorrelationId] = Stopwatch.GetTimestamp();
        return Task.CompletedTask;
    }

    public Task PreConsume<T>(ConsumeContext<T> context) where T : class
    {
        if (context.Message is AnalysisPassed passed) _delivered[passed.CorrelationId] = Stopwatch.GetTimestamp();
        return Task.CompletedTask;
    }

    public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;
    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    public Task PostConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;
    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using CanaryFlow.Controller.Rollouts;
using MassTransit;

namespace CanaryFlow.Benchmarks.Engine;

/// <summary>
/// What one engine run cost, counted from inside the process: messages published and delivered (by type),
/// bytes allocated, collections, and the managed memory each rollout keeps once it is done. Figures for
/// docs/benchmarks.md, never assertions.
/// </summary>
public sealed class EngineProbe : IPublishObserver, IReceiveObserver, IConsumeObserver
{
    private readonly ConcurrentDictionary<string, long> _published = new();
    private readonly ConcurrentDictionary<string, long> _consumed = new();
    private long _deliveries;
    private long _allocatedBefore;
    private readonly int[] _collectionsBefore = new int[3];
    private TimeSpan _pausedBefore;

    public long Deliveries => Interlocked.Read(ref _deliveries);
    public long Published => _published.Values.Sum();
    public long PublishedOf(string type) => _published.GetValueOrDefault(type);

    public void Connect(IBus bus)
    {
        bus.ConnectPublishObserver(this);
        bus.ConnectReceiveObserver(this);
        bus.ConnectConsumeObserver(this);
    }

    /// <summary>Managed heap after a full collection: the baseline for <see cref="RetainedBytes"/>.</summary>
    public static long SettledHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    public void Start()
    {
        _allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        for (var g = 0; g < 3; g++) _collectionsBefore[g] = GC.CollectionCount(g);
        _pausedBefore = GC.GetTotalPauseDuration();
    }

    /// <summary>Time the GC held every thread since <see cref="Start"/>: a check waiting behind a pause is part of the p99.</summary>
    public TimeSpan PausedSinceStart() => GC.GetTotalPauseDuration() - _pausedBefore;

    public long AllocatedSinceStart() => GC.GetTotalAllocatedBytes(precise: true) - _allocatedBefore;

    public string Collections() => string.Join("/", Enumerable.Range(0, 3).Select(g => GC.CollectionCount(g) - _collectionsBefore[g]));

    public string Breakdown(long transitions)
    {
        static string Per(ConcurrentDictionary<string, long> counts, long per) =>
            string.Join(", ", counts.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {(double)kv.Value / per:F2}"));
        return $"published per transition: {Per(_published, transitions)}\n" +
               $"consumed per transition:  {Per(_consumed, transitions)}";
    }

    /// <summary>The cost of one JSON pass over a real saga state (the persist filter and the file store make several per transition).</summary>
    public static string JsonCost(RolloutState sample, int rounds = 20_000)
    {
        var json = JsonSerializer.Serialize(sample);
        for (var i = 0; i < 1_000; i++) JsonSerializer.Deserialize<RolloutState>(JsonSerializer.Serialize(sample)); // warm-up
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < rounds; i++) JsonSerializer.Serialize(sample);
        var serialize = clock.Elapsed.TotalMicroseconds / rounds;
        var serializeBytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / rounds;
        allocated = GC.GetTotalAllocatedBytes(precise: true);
        clock.Restart();
        for (var i = 0; i < rounds; i++) JsonSerializer.Deserialize<RolloutState>(json);
        var deserialize = clock.Elapsed.TotalMicroseconds / rounds;
        var deserializeBytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / rounds;
        allocated = GC.GetTotalAllocatedBytes(precise: true);
        clock.Restart();
        for (var i = 0; i < rounds; i++) sample.Clone();
        var clone = clock.Elapsed.TotalMicroseconds / rounds;
        var cloneBytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / rounds;
        return $"saga state JSON {json.Length} chars: serialize {serialize:F1} µs / {serializeBytes} B allocated, " +
               $"deserialize {deserialize:F1} µs / {deserializeBytes} B, Clone() {clone:F2} µs / {cloneBytes} B";
    }

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;
    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        _published.AddOrUpdate(typeof(T).Name, 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }
    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;

    public Task PreReceive(ReceiveContext context) => Task.CompletedTask;
    public Task PostReceive(ReceiveContext context)
    {
        Interlocked.Increment(ref _deliveries);
        return Task.CompletedTask;
    }
    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;
    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class => Task.CompletedTask;
    public Task ReceiveFault(ReceiveContext context, Exception exception) => Task.CompletedTask;

    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;
    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        _consumed.AddOrUpdate(typeof(T).Name, 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }
    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

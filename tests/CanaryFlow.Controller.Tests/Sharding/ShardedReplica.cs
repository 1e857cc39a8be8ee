using System.Collections.Concurrent;
using System.Threading.Channels;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>
/// One sharded controller replica in the test process: the real engine (saga, workers, ticker, partition queues on a
/// real RabbitMQ) with <c>Sharding:Partitions</c> set. What the replicas share stands for the cluster: one rollout store
/// (the Canary statuses), one <see cref="InMemoryWorld"/> (Deployments and routing) and one analysis runner (Prometheus).
/// Which partitions it holds is the test's to say (<see cref="MovableOwnership"/>), in the orders PartitionLeases uses.
/// </summary>
public sealed class ShardedReplica : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly List<IHostedService> _hosted;

    private ShardedReplica(ServiceProvider provider, MovableOwnership ownership)
    {
        _provider = provider;
        Ownership = ownership;
        _hosted = provider.GetServices<IHostedService>().ToList();
    }

    private static readonly Microsoft.Extensions.Logging.ILoggerFactory Logs = Environment.GetEnvironmentVariable("CANARYFLOW_TEST_LOG") is { Length: > 0 }
        ? Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ").SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information))
        : TestLogging.Shared;

    public MovableOwnership Ownership { get; }
    public IServiceProvider Services => _provider;
    public IBus Bus => _provider.GetRequiredService<IBus>();
    public IRolloutStore Store => _provider.GetRequiredService<IRolloutStore>();
    public CanaryFlow.Controller.Rollouts.AsksTaken Asks => _provider.GetRequiredService<CanaryFlow.Controller.Rollouts.AsksTaken>();

    /// <param name="store">The store of the first replica, shared; null for the first.</param>
    /// <param name="storeFor">The store, made from this replica's ownership (a store behind its write fence).</param>
    public static async Task<ShardedReplica> StartAsync(int port, string vhost, int partitions, InMemoryWorld world, IAnalysisRunner runner,
        ResultLog results, IRolloutStore? store = null, IReadOnlyDictionary<string, string?>? settings = null,
        Func<IPartitionOwnership, IRolloutStore>? storeFor = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Bus:Transport"] = "RabbitMq",
            ["Bus:RabbitMq:Host"] = "127.0.0.1",
            ["Bus:RabbitMq:Port"] = port.ToString(),
            ["Bus:RabbitMq:VirtualHost"] = vhost,
            ["Sharding:Partitions"] = partitions.ToString(),
            ["Rollouts:StateDirectory"] = Directory.CreateTempSubdirectory("canaryflow-sharded-").FullName,
            ["Rollouts:TickPeriod"] = "00:00:00.200",
            ["Rollouts:StallAfter"] = "00:00:30",
        }).AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
        var services = new ServiceCollection();
        services.AddSingleton(Logs);
        services.AddLogging();
        services.AddSingleton<ITrafficRouter>(world);
        services.AddSingleton<IWorkloadController>(world);
        services.AddSingleton(runner);
        services.AddSingleton(results);
        var ownership = new MovableOwnership(partitions);
        if ((storeFor?.Invoke(ownership) ?? store) is { } shared) services.AddSingleton(shared);
        services.AddSingleton<IPartitionOwnership>(ownership);
        services.AddCanaryFlowEngine(configuration, x => x.AddConsumer<ResultProbe>());
        var provider = services.BuildServiceProvider();
        var replica = new ShardedReplica(provider, ownership);
        using var start = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        foreach (var hosted in replica._hosted) await hosted.StartAsync(start.Token);
        return replica;
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var hosted in Enumerable.Reverse(_hosted))
            try { await hosted.StopAsync(stop.Token); } catch (OperationCanceledException) { }
        await _provider.DisposeAsync();
    }
}

/// <summary>The partitions a replica holds, moved by the test in the orders PartitionLeases uses.</summary>
public sealed class MovableOwnership(int partitions) : IPartitionOwnership
{
    private readonly ConcurrentDictionary<int, byte> _held = new();
    private readonly Channel<PartitionChange> _changes = Channel.CreateUnbounded<PartitionChange>();

    public int Partitions => partitions;
    public bool Owns(int partition) => _held.ContainsKey(partition);
    public CancellationToken Changed => CancellationToken.None;
    public ChannelReader<PartitionChange> Changes => _changes.Reader;
    public Task GiveUpAsync(int partition) => LoseAsync(partition);

    /// <summary>Taken (its Lease written for this replica); completes once its queue consumes.</summary>
    public Task GainAsync(int partition)
    {
        _held[partition] = 0;
        return ChangeAsync(new PartitionChange(partition, Held: true));
    }

    /// <summary>Handed over in good order: the queue stops first (what is in flight finishes and its results leave),
    /// then the fence closes.</summary>
    public async Task StepDownAsync(int partition)
    {
        await ChangeAsync(new PartitionChange(partition, Held: false));
        _held.TryRemove(partition, out _);
    }

    /// <summary>Lost (renewals failed past the renew deadline): the fence closes at once; the queue stops in the
    /// background (not awaited, as PartitionLeases does not), so another replica may take the partition meanwhile.</summary>
    public async Task LoseAsync(int partition)
    {
        _held.TryRemove(partition, out _);
        await _changes.Writer.WriteAsync(new PartitionChange(partition, Held: false));
    }

    private async Task ChangeAsync(PartitionChange change)
    {
        await _changes.Writer.WriteAsync(change);
        await change.Done.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }
}

/// <summary>Prometheus for the replicas: the world's verdict, after <paramref name="takes"/>, and a log of every check
/// run (rollout, check time, canary weight) and of the checks running now.</summary>
public sealed class SlowRecordingRunner(InMemoryWorld world, TimeSpan takes) : IAnalysisRunner
{
    private int _running;

    public ConcurrentQueue<(RolloutTarget Target, DateTimeOffset At, int Weight)> Runs { get; } = new();
    public int Running => Volatile.Read(ref _running);

    public async Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        Runs.Enqueue((request.Target, request.At, world[request.Target].CanaryWeight));
        Interlocked.Increment(ref _running);
        try
        {
            await Task.Delay(takes, CancellationToken.None); // a check cut short by a lost partition still completes here
            return await world.RunAsync(request, cancellationToken);
        }
        finally { Interlocked.Decrement(ref _running); }
    }
}

/// <summary>Every check result that reached a partition's consumers (where the saga takes it).</summary>
public sealed class ResultLog
{
    public ConcurrentQueue<(Guid Rollout, long Sequence)> Passed { get; } = new();
}

public sealed class ResultProbe(ResultLog log) : IConsumer<AnalysisPassed>
{
    public Task Consume(ConsumeContext<AnalysisPassed> context)
    {
        log.Passed.Enqueue((context.Message.CorrelationId, context.Message.Sequence));
        return Task.CompletedTask;
    }
}

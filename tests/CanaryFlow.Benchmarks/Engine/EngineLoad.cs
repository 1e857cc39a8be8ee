using CanaryFlow.Benchmarks.Reliability;
using System.Diagnostics;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Benchmarks.Engine;

/// <summary>
/// N rollouts at once through the whole engine (saga, workers, ticker, durable file store) on the
/// in-memory transport or RabbitMQ: transitions per second, reaction latency, resident memory.
/// Bounded: every rollout has 10 steps of one analysis interval; the run stops at a time limit.
/// </summary>
public static class EngineLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var opt = new BenchArgs(args);
        var (rollouts, transport, port) = (opt.Int("--rollouts", 1000), opt.Text("--transport") ?? "InMemory", opt.Int("--rabbitmq-port", 5672));
        var (intervalMs, limit) = (opt.Int("--interval-ms", 1000), opt.Seconds("--time-limit-s", 180));

        var state = Directory.CreateTempSubdirectory("canaryflow-bench-").FullName;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Bus:Transport"] = transport,
            ["Bus:RabbitMq:Port"] = port.ToString(),
            ["Bus:ConcurrentMessageLimit"] = "64",
            ["Rollouts:StateDirectory"] = state,
            ["Rollouts:TickPeriod"] = "00:00:00.100",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var world = new TimingWorld(new InMemoryWorld());
        builder.Services.AddSingleton<ITrafficRouter>(world);
        builder.Services.AddSingleton<IWorkloadController>(world);
        builder.Services.AddSingleton<IAnalysisRunner>(world);
        // Transitions are counted by a publish observer (EngineProbe), not by a consumer of its own: a consumer
        // would add a queue and a delivery per transition that the engine does not have.
        builder.Services.AddCanaryFlowEngine(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();

        var bus = host.Services.GetRequiredService<IBus>();
        var probe = new EngineProbe();
        probe.Connect(bus);
        var heapBefore = EngineProbe.SettledHeap();
        probe.Start();
        var plan = new RolloutPlan([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], TimeSpan.FromMilliseconds(intervalMs), 2, 0, 0,
            TimeSpan.FromMinutes(10), [], false, new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 0.99)]));
        var process = Process.GetCurrentProcess();
        long peakRss = 0;
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var targets = Enumerable.Range(0, rollouts).Select(i => new RolloutTarget("bench", $"svc-{i:D4}")).ToList();
        // Rollouts start spread over one interval, as they would in a cluster (not all in lock-step).
        var spread = TimeSpan.FromMilliseconds((double)intervalMs / rollouts);
        foreach (var t in targets)
        {
            await Task.Delay(spread);
            await bus.Publish(new RolloutRequested(RolloutIds.ForTarget(t), RolloutIds.ForRevision(t, "v2"), t, "v2", null, plan,
                "bench", "load", DateTimeOffset.UtcNow));
        }

        var store = host.Services.GetRequiredService<IRolloutStore>();
        int done;
        do
        {
            await Task.Delay(250);
            process.Refresh();
            peakRss = Math.Max(peakRss, process.WorkingSet64);
            done = (await store.LoadAllAsync(CancellationToken.None)).Count(s => s.CurrentState is RolloutPhases.Succeeded or RolloutPhases.Failed);
        } while (done < rollouts && clock.Elapsed < limit);
        var elapsed = clock.Elapsed;
        var cpu = process.TotalProcessorTime - cpuBefore;
        var allocated = probe.AllocatedSinceStart();
        var collections = probe.Collections();
        await Task.Delay(500); // the last transitions' observers
        targets.Clear();
        targets.TrimExcess(); // the benchmark's own list, not the engine's
        var retained = EngineProbe.SettledHeap() - heapBefore;
        var sample = (await store.LoadAllAsync(CancellationToken.None)).First();
        // What of that is the stand-in cluster and the latency samples (the benchmark's, not the engine's): measured by
        // dropping them, after the percentiles are read.
        var lat = world.LatenciesMs.Order().ToArray();
        var withWorld = EngineProbe.SettledHeap();
        world.Forget();
        var engineKept = retained - (withWorld - EngineProbe.SettledHeap());
        // --hold-s N: keep the finished engine in memory for a heap dump (dotnet-gcdump collect -p PID).
        var hold = opt.Int("--hold-s", 0);
        if (hold > 0)
        {
            Console.WriteLine($"holding {hold} s for a heap dump: pid {Environment.ProcessId}");
            await Task.Delay(TimeSpan.FromSeconds(hold));
        }
        await host.StopAsync();

        double P(double q) => lat.Length == 0 ? double.NaN : lat[Math.Min(lat.Length - 1, (int)Math.Ceiling(q * lat.Length) - 1)];
        var transitions = probe.PublishedOf(nameof(RolloutTransitioned));
        Console.WriteLine($"| {transport} | {rollouts} | {done} | {elapsed.TotalSeconds:F1} | {transitions} | {transitions / elapsed.TotalSeconds:F0} | " +
                          $"{P(0.5):F1} | {P(0.99):F1} | {peakRss / 1024.0 / 1024.0:F0} | {cpu.TotalSeconds / elapsed.TotalSeconds * 100:F0}% | " +
                          $"{transitions / cpu.TotalSeconds:F0} | {Load()} |");
        Console.WriteLine($"allocated {allocated / 1024.0 / 1024.0:F0} MB = {allocated / Math.Max(1, transitions) / 1024.0:F1} KB per transition; " +
                          $"GC gen0/1/2 {collections}; managed heap kept after the run {retained / 1024.0 / 1024.0:F1} MB = {retained / rollouts / 1024.0:F2} KB per rollout, " +
                          $"of which the engine's {engineKept / 1024.0 / 1024.0:F1} MB = {engineKept / rollouts / 1024.0:F2} KB per rollout (the rest: the stand-in cluster and latency samples)");
        Console.WriteLine($"bus: {probe.Published / (double)Math.Max(1, transitions):F2} publishes and {probe.Deliveries / (double)Math.Max(1, transitions):F2} deliveries per transition " +
                          $"({probe.Published} / {probe.Deliveries})");
        Console.WriteLine(probe.Breakdown(Math.Max(1, transitions)));
        Console.WriteLine(EngineProbe.JsonCost(sample));
        Directory.Delete(state, recursive: true);
        return done == rollouts ? 0 : 1;
    }

    public const string Header =
        "| transport | rollouts | finished | wall s | transitions | transitions/s | p50 check→weight ms | p99 check→weight ms | peak RSS MB | CPU (of 1 core) | transitions per CPU-s | load avg |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|";

    /// <summary>The machine's 1-minute load average at the end of the run (figures from a busy machine are not comparable).</summary>
    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}

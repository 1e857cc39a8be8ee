using CanaryFlow.Benchmarks.Reliability;
using System.Diagnostics;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Storage;
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
        if (opt.Flag(ShippedRuntime.Flag)) return await ShippedRuntime.RunAgainAsync("engine", args);
        Console.WriteLine($"runtime: {ShippedRuntime.Describe()}");
        var (rollouts, transport, port) = (opt.Int("--rollouts", 1000), opt.Text("--transport") ?? "InMemory", opt.Int("--rabbitmq-port", 5672));
        var (intervalMs, limit) = (opt.Int("--interval-ms", 1000), opt.Seconds("--time-limit-s", 180));
        // --warmup-rollouts N: N rollouts through the same engine before the measured ones, so that the figures are a
        // running controller's, not a new process's (tiered JIT and its PGO tier are most of the first ~20 s).
        var warmup = opt.Int("--warmup-rollouts", 0);
        // --steady-s S: keep about N rollouts active for S seconds (see RunSteadyAsync) instead of starting N at once.
        var steady = opt.Seconds("--steady-s", 0);

        var state = Directory.CreateTempSubdirectory("canaryflow-bench-").FullName;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Bus:Transport"] = transport,
            ["Bus:RabbitMq:Port"] = port.ToString(),
            // The controller's own default unless given: until 2026-12-06 this was 64 while the controller shipped 32.
            ["Bus:ConcurrentMessageLimit"] = opt.Int("--concurrency", new Controller.Bus.BusOptions().ConcurrentMessageLimit).ToString(),
            ["Rollouts:StateDirectory"] = state,
            ["Rollouts:TickPeriod"] = "00:00:00.100",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var world = new TimingWorld(new InMemoryWorld());
        builder.Services.AddSingleton<ITrafficRouter>(world);
        builder.Services.AddSingleton<IWorkloadController>(world);
        builder.Services.AddSingleton<IAnalysisRunner>(world);
        builder.Services.AddSingleton<IRolloutStore>(sp => new TimedStore(new FileRolloutStore(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<CanaryFlow.Controller.Rollouts.RolloutEngineOptions>>())));
        // Transitions are counted by a publish observer (EngineProbe), not by a consumer of its own: a consumer
        // would add a queue and a delivery per transition that the engine does not have.
        builder.Services.AddCanaryFlowEngine(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();

        var bus = host.Services.GetRequiredService<IBus>();
        var store = (TimedStore)host.Services.GetRequiredService<IRolloutStore>(); // registered above
        var plan = new RolloutPlan([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], TimeSpan.FromMilliseconds(intervalMs), 2, 0, 0,
            TimeSpan.FromMinutes(10), [], false, new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 0.99)]));
        if (warmup > 0)
        {
            var warmClock = Stopwatch.StartNew();
            var warmDone = await RunBatchAsync(bus, store, "warm", warmup, plan, intervalMs, limit, () => { });
            Console.WriteLine($"warm-up: {warmDone} of {warmup} rollouts in {warmClock.Elapsed.TotalSeconds:F1} s before the measured ones");
            world.Forget();
        }
        if (steady > TimeSpan.Zero)
        {
            var code = await RunSteadyAsync(bus, world, store, transport, rollouts, plan, steady, limit);
            await host.StopAsync();
            Directory.Delete(state, recursive: true);
            return code;
        }
        var probe = new EngineProbe();
        probe.Connect(bus);
        var heapBefore = EngineProbe.SettledHeap();
        probe.Start();
        var process = Process.GetCurrentProcess();
        long peakRss = 0;
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var done = await RunBatchAsync(bus, store, "svc", rollouts, plan, intervalMs, limit, () =>
        {
            process.Refresh();
            peakRss = Math.Max(peakRss, process.WorkingSet64);
        });
        var elapsed = clock.Elapsed;
        var cpu = process.TotalProcessorTime - cpuBefore;
        var allocated = probe.AllocatedSinceStart();
        var collections = probe.Collections();
        var paused = probe.PausedSinceStart();
        await Task.Delay(500); // the last transitions' observers
        var retained = EngineProbe.SettledHeap() - heapBefore;
        var sample = (await store.LoadAllAsync(CancellationToken.None)).First(s => s.Target.Name.StartsWith("svc-", StringComparison.Ordinal));
        // What of that is the stand-in cluster and the latency samples (the benchmark's, not the engine's): measured by
        // dropping them, after the percentiles are read.
        var lat = world.LatenciesMs.Concat(world.ToStableMs).Order().ToArray(); // every check, as in the figures before the two were told apart
        var toCheck = world.WeightToCheckMs.Order().ToArray();
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

        double P(double q) => Percentile(lat, q);
        var transitions = probe.PublishedOf(nameof(RolloutTransitioned));
        Console.WriteLine($"| {transport} | {rollouts} | {done} | {elapsed.TotalSeconds:F1} | {transitions} | {transitions / elapsed.TotalSeconds:F0} | " +
                          $"{P(0.5):F1} | {P(0.99):F1} | {peakRss / 1024.0 / 1024.0:F0} | {cpu.TotalSeconds / elapsed.TotalSeconds * 100:F0}% | " +
                          $"{transitions / cpu.TotalSeconds:F0} | {Load()} |");
        Console.WriteLine($"allocated {allocated / 1024.0 / 1024.0:F0} MB = {allocated / Math.Max(1, transitions) / 1024.0:F1} KB per transition; " +
                          $"GC gen0/1/2 {collections}, paused {paused.TotalMilliseconds:F0} ms in all; managed heap kept after the run {retained / 1024.0 / 1024.0:F1} MB = {retained / rollouts / 1024.0:F2} KB per rollout, " +
                          $"of which the engine's {engineKept / 1024.0 / 1024.0:F1} MB = {engineKept / rollouts / 1024.0:F2} KB per rollout (the rest: the stand-in cluster and latency samples)");
        Console.WriteLine($"bus: {probe.Published / (double)Math.Max(1, transitions):F2} publishes and {probe.Deliveries / (double)Math.Max(1, transitions):F2} deliveries per transition " +
                          $"({probe.Published} / {probe.Deliveries})");
        Console.WriteLine(probe.Breakdown(Math.Max(1, transitions)));
        Console.WriteLine($"weight applied → next check started, p50 / p99: {Percentile(toCheck, 0.5):F0} / {Percentile(toCheck, 0.99):F0} ms " +
                          $"(the interval is {intervalMs} ms; the rest is the tick, the ask's trip and the worker's queue)");
        Console.WriteLine(EngineProbe.JsonCost(sample));
        Directory.Delete(state, recursive: true);
        return done == rollouts ? 0 : 1;
    }

    /// <summary>Starts <paramref name="count"/> rollouts of targets named <c>prefix-NNNN</c>, spread over one interval as they
    /// would be in a cluster (not all in lock-step), and waits until they have all ended or the limit has passed.</summary>
    private static async Task<int> RunBatchAsync(IBus bus, IRolloutStore store, string prefix, int count, RolloutPlan plan, int intervalMs,
        TimeSpan limit, Action sample)
    {
        var clock = Stopwatch.StartNew();
        var spread = TimeSpan.FromMilliseconds((double)intervalMs / count);
        // Each start is published at its time without waiting for the one before: a publish waits for the broker's
        // confirm, and a delay of ~1 ms sleeps longer, so one at a time 1,000 starts took 5–12 s instead of one interval.
        var publishes = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var wait = spread * i - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait);
            publishes.Add(StartRollout(bus, $"{prefix}-{i:D4}", plan));
        }
        await Task.WhenAll(publishes);
        Console.WriteLine($"{prefix}: {count} started in {clock.Elapsed.TotalSeconds:F1} s");
        int done;
        do
        {
            await Task.Delay(250);
            sample();
            done = (await store.LoadAllAsync(CancellationToken.None)).Count(s =>
                s.Target.Name.StartsWith(prefix + "-", StringComparison.Ordinal) && s.CurrentState is RolloutPhases.Succeeded or RolloutPhases.Failed);
        } while (done < count && clock.Elapsed < limit);
        return done;
    }

    /// <summary>
    /// N active rollouts in a steady state: rollouts start at a constant rate, N per rollout's expected duration, so
    /// that after one duration about N are active at any time, their steps evenly out of phase (starting N at once keeps
    /// them in step to the end: a burst of starts, then one of promotions, which is not how N rollouts in a cluster
    /// run). Checks, transitions and CPU are counted in a window of <paramref name="window"/> after that first duration.
    /// </summary>
    private static async Task<int> RunSteadyAsync(IBus bus, TimingWorld world, TimedStore store, string transport, int active, RolloutPlan plan,
        TimeSpan window, TimeSpan limit)
    {
        var probe = new EngineProbe();
        probe.Connect(bus);
        world.Stages.Connect(bus);
        // A step takes its interval plus ~20 % (the shared grid, the tick; weight applied → next check was 1.18–1.19
        // intervals at 100 and at 1,000 rollouts), and the preparation a fifth of one: with 10 × 1.2 + 1 only ~930 of
        // 1,000 were active.
        var duration = plan.AnalysisInterval * (plan.Steps.Count * 1.2 + 0.2);
        var every = duration / active;
        var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        var publishes = new List<Task>();
        var (started, activeSeen, peakRss) = (0, new List<long>(), 0L);
        (long Transitions, TimeSpan Cpu, TimeSpan At, long Allocated, TimeSpan Paused) open = default, close = default;
        long Finished() => probe.PublishedOf(nameof(RolloutSucceeded)) + probe.PublishedOf(nameof(RolloutFailed));
        (long, TimeSpan, TimeSpan, long, TimeSpan) Mark()
        {
            process.Refresh();
            return (probe.PublishedOf(nameof(RolloutTransitioned)), process.TotalProcessorTime, clock.Elapsed,
                GC.GetTotalAllocatedBytes(precise: false), GC.GetTotalPauseDuration());
        }
        world.Sampling = false;
        var pauses = new GcPauses(); // in the window only
        var nextSample = TimeSpan.Zero;
        while (clock.Elapsed < duration + window)
        {
            // Each start is published at its time without waiting for the one before (a publish waits for the broker's confirm).
            for (; every * started <= clock.Elapsed; started++)
                publishes.Add(StartRollout(bus, $"steady-{started:D6}", plan));
            if (!world.Sampling && clock.Elapsed >= duration)
            {
                open = Mark();
                store.Recording = true;
                world.Sampling = true;
            }
            if (world.Sampling && clock.Elapsed >= nextSample)
            {
                activeSeen.Add(started - Finished());
                peakRss = Math.Max(peakRss, process.WorkingSet64);
                nextSample = clock.Elapsed + TimeSpan.FromMilliseconds(250);
            }
            if (world.Sampling) pauses.Poll();
            await Task.Delay(TimeSpan.FromMilliseconds(2));
        }
        close = Mark();
        store.Recording = false;
        var saves = store.Summary();
        world.Sampling = false;
        await Task.WhenAll(publishes);
        while (Finished() < started && clock.Elapsed < duration + window + limit) await Task.Delay(250);
        var ended = Finished();

        var (lat, toStable, toCheck) = (world.LatenciesMs.Order().ToArray(), world.ToStableMs.Order().ToArray(), world.WeightToCheckMs.Order().ToArray());
        var all = lat.Concat(toStable).Order().ToArray();
        var (transitions, seconds, cpu) = (close.Transitions - open.Transitions, (close.At - open.At).TotalSeconds, (close.Cpu - open.Cpu).TotalSeconds);
        Console.WriteLine(SteadyHeader);
        Console.WriteLine($"| {transport} | {activeSeen.Average():F0} ({activeSeen.Min()}–{activeSeen.Max()}) | {seconds:F1} | {transitions} | " +
                          $"{transitions / seconds:F0} | {Percentile(lat, 0.5):F1} / {Percentile(lat, 0.99):F1} | " +
                          $"{Percentile(toStable, 0.5):F1} / {Percentile(toStable, 0.99):F1} | {Percentile(all, 0.99):F1} | " +
                          $"{peakRss / 1024.0 / 1024.0:F0} | {cpu / seconds * 100:F0}% | {transitions / cpu:F0} | {Load()} |");
        Console.WriteLine($"{started} started, {ended} ended (all by {clock.Elapsed.TotalSeconds:F0} s); in the window: " +
                          $"allocated {(close.Allocated - open.Allocated) / (double)Math.Max(1, transitions) / 1024.0:F1} KB per transition, " +
                          $"GC paused {(close.Paused - open.Paused).TotalMilliseconds:F0} ms; weight applied → next check started p50 / p99 " +
                          $"{Percentile(toCheck, 0.5):F0} / {Percentile(toCheck, 0.99):F0} ms (the interval is {plan.AnalysisInterval.TotalMilliseconds:F0} ms)");
        Console.WriteLine(pauses.Summary(close.Paused - open.Paused));
        Console.WriteLine(world.Stages.Summary());
        Console.WriteLine(saves);
        return ended == started ? 0 : 1;
    }

    public const string SteadyHeader =
        "| transport | active rollouts (mean, min–max) | window s | transitions | transitions/s | check → step weight p50 / p99 ms | check → all to stable (promotion) p50 / p99 ms | all checks p99 ms | peak RSS MB | CPU (of 1 core) | transitions per CPU-s | load avg |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|";

    private static Task StartRollout(IBus bus, string name, RolloutPlan plan)
    {
        var t = new RolloutTarget("bench", name);
        return bus.Publish(new RolloutRequested(RolloutIds.ForTarget(t), RolloutIds.ForRevision(t, "v2"), t, "v2", null, plan,
            "bench", "load", DateTimeOffset.UtcNow));
    }

    internal static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    public const string Header =
        "| transport | rollouts | finished | wall s | transitions | transitions/s | p50 check→weight ms | p99 check→weight ms | peak RSS MB | CPU (of 1 core) | transitions per CPU-s | load avg |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|";

    /// <summary>The machine's 1-minute load average at the end of the run (figures from a busy machine are not comparable).</summary>
    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}

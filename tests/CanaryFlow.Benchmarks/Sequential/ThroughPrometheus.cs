using System.Diagnostics;
using CanaryFlow.Analysis;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Benchmarks.Sequential;

/// <summary>
/// <c>sequential --prometheus</c>: the sequential judge once more on the first seeds of each scenario, but its
/// counters go the way a cluster's do: the stream's requests are recorded as Istio-style metrics in an exporter, a
/// real Prometheus scrapes it (every second), and the controller's own <see cref="SequentialAnalysisRunner"/> reads
/// them back with its batched namespace queries. Time is compressed: one tick of simulated seconds per real scrape
/// interval (+ a margin), every run in its own namespace, all runs side by side. Each row puts the run next to the
/// same seed fed to the analysis code directly. Scenarios with an outage are left out (one shared Prometheus; the
/// outage through a real Prometheus is covered by the controller's tests).
/// </summary>
public static class ThroughPrometheus
{
    private static readonly TimeSpan Scrape = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(1400); // a scrape, and its samples queryable
    /// <summary>Simulated seconds a run may take here (real time is ~0.28 of it): a run still going is Unfinished.</summary>
    private const int MaxSeconds = 900;

    public static async Task RunAsync(IEnumerable<Scenario> scenarios, int runsEach, int seed, int interval, int tick, int? firstLook, int outageDeadline, SequentialSettings settings, int stableHistorySeconds)
    {
        await using var exporter = await MeshMetricsExporter.StartAsync();
        await using var prometheus = await PrometheusProcess.StartAsync([exporter.ScrapeTarget], Scrape);
        var options = new PrometheusOptions { Address = prometheus.Address.ToString(), BatchWindow = TimeSpan.FromMilliseconds(50) };
        var runner = new SequentialAnalysisRunner(new PrometheusClient(options, TimeProvider.System), options, TimeProvider.System, new NoThresholds());
        await Task.Delay(TimeSpan.FromSeconds(3)); // Prometheus' first scrape

        var chosen = scenarios.Where(s => s.Outage is null && s.RequestsPerSecond > 0).ToList(); // no traffic: nothing to carry
        var clock = Stopwatch.StartNew();
        var jobs = chosen.SelectMany((s, k) => Enumerable.Range(0, runsEach).Select(i => (Scenario: s, Seed: seed * 1_000_003 + i, Ns: $"bench-{k}-{i}")))
            .Select(j => (j.Scenario, j.Seed, Task: RunOneAsync(j.Scenario, j.Seed, j.Ns, exporter, runner, interval, tick, firstLook, settings, stableHistorySeconds)))
            .ToList();
        await Task.WhenAll(jobs.Select(j => j.Task));

        Console.WriteLine();
        Console.WriteLine($"through a real Prometheus (scrape {Scrape.TotalSeconds:0} s, one {tick} s tick per {Wait.TotalSeconds:0.#} s of real time; {jobs.Count} runs side by side in {clock.Elapsed.TotalSeconds:0} s)");
        Console.WriteLine("| scenario | seed | direct: outcome, s, bad | through Prometheus: outcome, s, bad |");
        Console.WriteLine("|---|---:|---|---|");
        foreach (var j in jobs)
        {
            var direct = RolloutSimulation.Run(j.Scenario, new SequentialJudge(interval, tick, firstLook, outageDeadline, settings), j.Seed, stableHistorySeconds);
            var real = j.Task.Result;
            Console.WriteLine($"| {j.Scenario.Name} | {j.Seed} | {direct.Outcome}, {direct.Seconds}, {direct.Bad} | {real.Outcome}, {real.Seconds}, {real.Bad} |");
        }
    }

    /// <summary>The same loop as <see cref="RolloutSimulation.Run"/> (same stream for the same seed), judged every tick
    /// by the real runner on what Prometheus scraped. Bounded: <see cref="MaxSeconds"/> simulated.</summary>
    private static async Task<RunResult> RunOneAsync(Scenario scenario, int seed, string ns, MeshMetricsExporter exporter, ISequentialAnalysisRunner runner,
        int interval, int tick, int? firstLook, SequentialSettings settings, int stableHistorySeconds)
    {
        var target = new RolloutTarget(ns, "svc");
        var stream = RolloutSimulation.Stream(scenario, seed, stableHistorySeconds);
        var before = stream.Snapshot();
        var nothing = new ArmCounters(0, 0, [], 0);
        Record(exporter, ns, WorkloadNames.Stable(target), nothing, before.Stable, before.Les); // the stable version's past
        var recorded = (Canary: before.Canary, Stable: before.Stable);
        await Task.Delay(Wait);
        var spec = new AnalysisSpec((int)settings.MinRequests, [], null, new SequentialSpec(settings.Alpha, settings.Tolerance, TimeSpan.FromSeconds(tick), TimeSpan.FromMinutes(10),
            firstLook is { } f ? TimeSpan.FromSeconds(f) : null, settings.HoldAt, LatencyFloor: TimeSpan.FromMilliseconds(settings.LatencyFloor))); // a hold, if any, for one interval at most: as the direct judge
        var (tickSpan, look) = (spec.Sequential!.Tick, spec.Sequential.FirstLook);
        var steps = RolloutSimulation.Steps;
        // The checks at the controller's schedule (SequentialSchedule, simulated second 0 on its grids), as the direct
        // judge. With a first look the baseline is read at once, before any request (no series yet reads as zero).
        var (step, stepStart, burstUntil, sequence) = (0, 0, -1, 1L);
        string? state = null;
        int Second(DateTimeOffset at) => (int)Math.Ceiling((at - DateTimeOffset.UnixEpoch).TotalSeconds);
        var next = Second(SequentialSchedule.First(DateTimeOffset.UnixEpoch, tickSpan, look, baselineRead: false));
        if (next == 0)
        {
            var start = DateTimeOffset.UtcNow;
            state = (await runner.RunAsync(new AnalysisDue(Guid.Empty, Guid.Empty, target, "v2", steps[0], sequence, start, TimeSpan.FromSeconds(interval), spec,
                null, start), CancellationToken.None)).State;
            next = Second(SequentialSchedule.Next(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, tickSpan, look));
        }
        for (var t = 1; t <= MaxSeconds; t++)
        {
            var load = scenario.RequestsPerSecond * (1 + 0.5 * Math.Sin(2 * Math.PI * t / 600));
            if (scenario.Bursts && t > burstUntil && stream.NextDouble() < 1.0 / 180) burstUntil = t + 10;
            stream.Serve(load, steps[step], scenario.Canary, ArmBehaviour.Healthy, t <= burstUntil ? 0.1 : 0);
            if (t != next) continue;
            var at = DateTimeOffset.UnixEpoch.AddSeconds(t);
            next = Second(SequentialSchedule.Next(at, at, DateTimeOffset.UnixEpoch.AddSeconds(stepStart), tickSpan, look));

            var now = stream.Snapshot();
            Record(exporter, ns, WorkloadNames.Canary(target), recorded.Canary, now.Canary, now.Les);
            Record(exporter, ns, WorkloadNames.Stable(target), recorded.Stable, now.Stable, now.Les);
            recorded = (now.Canary, now.Stable);
            await Task.Delay(Wait);

            var dueAt = DateTimeOffset.UtcNow;
            var due = new AnalysisDue(Guid.Empty, Guid.Empty, target, "v2", steps[step], ++sequence, dueAt, TimeSpan.FromSeconds(interval), spec,
                state, dueAt - TimeSpan.FromSeconds(t - stepStart)); // the step's age in simulated seconds
            var verdict = await runner.RunAsync(due, CancellationToken.None);
            state = verdict.State;
            if (verdict.Outcome == VerdictOutcome.Failed) return new RunResult(RunOutcome.RolledBack, t, Bad(scenario, stream));
            if (verdict.Outcome != VerdictOutcome.Passed) continue;
            if (step == steps.Count - 1) return new RunResult(RunOutcome.Promoted, t, Bad(scenario, stream));
            (step, stepStart) = (step + 1, t);
            state = SequentialState.StartStep(state);
            next = Second(SequentialSchedule.First(DateTimeOffset.UnixEpoch.AddSeconds(t), tickSpan, look, baselineRead: true));
        }
        return new RunResult(RunOutcome.Unfinished, MaxSeconds, Bad(scenario, stream));
    }

    /// <summary>The increment of one arm as the sidecar would count it: per latency bucket, its 5xx put in the fastest
    /// buckets (the stream counts errors and latencies apart); totals, errors and buckets come out exact.</summary>
    private static void Record(MeshMetricsExporter exporter, string ns, string workload, ArmCounters before, ArmCounters now, IReadOnlyList<double> les)
    {
        var errors = (long)(now.Errors - before.Errors);
        var previous = 0.0;
        for (var i = 0; i <= les.Count; i++)
        {
            var cumulative = i < les.Count ? now.Buckets[i] - Bucket(before, i) : now.LatencyCount - before.LatencyCount;
            var count = (long)(cumulative - previous);
            previous = cumulative;
            if (count <= 0) continue;
            var ms = i < les.Count ? les[i] : les[^1] * 2;
            var failed = Math.Min(errors, count);
            errors -= failed;
            if (failed > 0) exporter.Record(ns, workload, 503, ms, failed);
            if (count - failed > 0) exporter.Record(ns, workload, 200, ms, count - failed);
        }
    }

    private static double Bucket(ArmCounters c, int i) => c.Buckets.Count > i ? c.Buckets[i] : 0;

    private static long Bad(Scenario scenario, RequestStream stream) =>
        scenario.Bad == BadKind.Errors ? stream.Canary.Errors : stream.Canary.Requests;

    /// <summary>The scenarios judge the sequential tests alone (no thresholds): never asked.</summary>
    private sealed class NoThresholds : IAnalysisRunner
    {
        public Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("no thresholds in the benchmark scenarios");
    }
}

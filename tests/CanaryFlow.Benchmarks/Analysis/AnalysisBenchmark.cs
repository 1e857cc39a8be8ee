using System.Diagnostics;
using System.Globalization;
using CanaryFlow.Analysis;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Statistics;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Benchmarks.Analysis;

/// <summary>
/// Figures, not pass/fail: (1) one analysis tick of N canaries (default 1,000) in one namespace
/// against a real Prometheus: queries sent and wall time; (2) the Mann-Whitney test on 10,000
/// samples a side. Usage: <c>analysis [--canaries N] [--ticks T]</c>.
/// </summary>
public static class AnalysisBenchmark
{
    private const string Namespace = "bench";
    // Closer to production (Istio scrapes every 15 s, analysis intervals are minutes) than the
    // tests' 1 s, and keeps Prometheus' own ingestion of ~46k series from skewing the figures.
    private static readonly TimeSpan Scrape = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(string[] args)
    {
        var canaries = IntArg(args, "--canaries", 1000);
        var ticks = IntArg(args, "--ticks", 3);
        MannWhitneyFigures();
        await TickFiguresAsync(canaries, ticks);
        return 0;
    }

    private static void MannWhitneyFigures()
    {
        var random = new Random(42);
        foreach (var n in new[] { 100, 1_000, 5_000, 10_000 })
        {
            var x = Enumerable.Range(0, n).Select(_ => Math.Round(random.NextDouble() * 100, 1)).ToArray(); // rounded: realistic ties
            var y = Enumerable.Range(0, n).Select(_ => Math.Round(random.NextDouble() * 105, 1)).ToArray();
            for (var i = 0; i < 20; i++) MannWhitney.Test(x, y); // warm-up (JIT, tiering)
            const int runs = 200;
            var times = new double[runs];
            MannWhitneyResult result = null!;
            for (var i = 0; i < runs; i++)
            {
                var start = Stopwatch.GetTimestamp();
                result = MannWhitney.Test(x, y);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            Array.Sort(times);
            Console.WriteLine($"mann-whitney n={n} per side: median {F(times[runs / 2])} ms, p95 {F(times[runs * 95 / 100])} ms (U1={F(result.U1)}, p={result.PValue:G4})");
        }
    }

    private static async Task TickFiguresAsync(int canaries, int ticks)
    {
        await using var mesh = await MeshMetricsExporter.StartAsync();
        using var traffic = new CancellationTokenSource();
        var simulate = SimulateTrafficAsync(mesh, canaries, traffic.Token);
        await using var prometheus = await PrometheusProcess.StartAsync([mesh.ScrapeTarget], Scrape);
        Console.WriteLine($"prometheus on {prometheus.Address}, {canaries} canaries + {canaries} stables in namespace '{Namespace}'; waiting for {(Interval + Scrape).TotalSeconds}s of data...");
        await Task.Delay(Interval + Scrape);

        var options = new PrometheusOptions
        {
            Address = prometheus.Address.ToString(),
            BatchWindow = TimeSpan.FromSeconds(1),
            ComparisonStep = Scrape,
            ComparisonRateWindow = Scrape * 3,
        };
        await QueryLatencyAsync(options);
        AnalysisSpec thresholds = new(10, [new MetricSpec(IstioQueries.SuccessRate, Min: 99), new MetricSpec(IstioQueries.Duration, Max: 500)]);
        await MeasureAsync("thresholds", options, thresholds, canaries, ticks);
        await MeasureAsync("thresholds+comparison", options, thresholds with { Comparison = new ComparisonSpec() }, canaries, ticks);

        await traffic.CancelAsync();
        await simulate;
    }

    // What one namespace-wide query costs on its own, so the tick figures can be read against it.
    private static async Task QueryLatencyAsync(PrometheusOptions options)
    {
        using var client = new PrometheusClient(options, TimeProvider.System);
        var at = DateTimeOffset.UtcNow;
        foreach (var (name, promql) in new[]
                 {
                     ("requests", IstioQueries.Requests(Namespace, Interval)),
                     ("5xx", IstioQueries.ServerErrors(Namespace, Interval)),
                     ("p99", IstioQueries.P99(Namespace, Interval)),
                 })
        {
            var start = Stopwatch.GetTimestamp();
            var instant = await client.QueryAsync(promql, at, CancellationToken.None);
            var instantMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            start = Stopwatch.GetTimestamp();
            var range = await client.QueryRangeAsync(promql.Replace(PromQl.Duration(Interval), PromQl.Duration(options.ComparisonRateWindow), StringComparison.Ordinal),
                at - Interval, at, options.ComparisonStep, CancellationToken.None);
            var rangeMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            Console.WriteLine($"query {name}: instant {F(instantMs)} ms ({instant.Vector.Count} series), range {F(rangeMs)} ms ({range.Matrix.Count} series)");
        }
    }

    private static async Task MeasureAsync(string name, PrometheusOptions options, AnalysisSpec spec, int canaries, int ticks)
    {
        using var client = new PrometheusClient(options, TimeProvider.System);
        var runner = new PrometheusAnalysisRunner(client, options, TimeProvider.System);
        for (var tick = 1; tick <= ticks; tick++)
        {
            await Task.Delay(options.BatchWindow + TimeSpan.FromMilliseconds(100)); // a fresh tick: nothing cached
            var before = client.QueriesAsked;
            var at = DateTimeOffset.UtcNow;
            var start = Stopwatch.GetTimestamp();
            var verdicts = await Task.WhenAll(Enumerable.Range(0, canaries).Select(i =>
                runner.RunAsync(new AnalysisRequest(new RolloutTarget(Namespace, Canary(i)), Canary(i), Canary(i) + "-primary", Interval, spec, at), CancellationToken.None)));
            var wall = Stopwatch.GetElapsedTime(start);
            var outcomes = string.Join(", ", verdicts.GroupBy(v => v.Outcome).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
            Console.WriteLine($"{name} tick {tick}: {canaries} canaries, {client.QueriesAsked - before} queries, {F(wall.TotalMilliseconds)} ms wall ({outcomes})");
        }
    }

    // Every 200 ms each canary and stable serves a few requests; every 10th canary is broken (20% 503)
    // so the verdicts are not all alike.
    private static async Task SimulateTrafficAsync(MeshMetricsExporter mesh, int canaries, CancellationToken cancellationToken)
    {
        var random = new Random(7);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        try
        {
            do
            {
                for (var i = 0; i < canaries; i++)
                {
                    var canary = Canary(i);
                    mesh.Record(Namespace, canary, 200, 2 + random.NextDouble() * 20, 4);
                    if (i % 10 == 0) mesh.Record(Namespace, canary, 503, 1, 1);
                    mesh.Record(Namespace, canary + "-primary", 200, 2 + random.NextDouble() * 20, 5);
                }
            } while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the benchmark is over
        }
    }

    private static string Canary(int i) => $"svc-{i:D4}";

    private static string F(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
    }
}

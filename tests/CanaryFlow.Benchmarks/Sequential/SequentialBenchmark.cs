using System.Diagnostics;
using System.Globalization;
using CanaryFlow.Analysis;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;
using static CanaryFlow.Benchmarks.Reliability.ControllerSettings;

namespace CanaryFlow.Benchmarks.Sequential;

/// <summary>
/// Four judges on the same seeded request streams (see <see cref="RolloutSimulation"/>): the sequential
/// judge, CanaryFlow's fixed-window thresholds, Kayenta-style Mann-Whitney per window and Flagger's
/// defaults. Prints a Markdown table: healthy runs' false rollbacks and promotions; regressions' share
/// caught (and caught while still at the first step), bad requests served before rollback (median, p95 over all runs, uncaught ones counted to
/// promotion) and time to detection (caught runs). Figures, not assertions.
/// Usage: <c>sequential [--healthy-runs 1000] [--runs 200] [--seed 1] [--tick-seconds 5] [--first-look-seconds 2 (0: none)]
/// [--stable-history-seconds 600] [--interval-seconds 60]
/// [--alpha 0.05] [--tolerance 0.1] [--min-requests 50 (per version per step)] [--latency-floor-ms 5] [--hold-at 5 (the controller's default e-value; 0: steps never held)] [--max-hold-seconds (an interval)]
/// [--outage-deadline-seconds 600] [--load-factor 1] [--only TEXT] [--judges sequential,flagger (default: all four)] [--bad-counts] [--prometheus [--prometheus-runs 2]]</c>;
/// <c>--prometheus</c> runs the sequential judge again through a real Prometheus (<see cref="ThroughPrometheus"/>).
/// </summary>
public static class SequentialBenchmark
{
    public static int Run(string[] args)
    {
        var healthyRuns = IntArg(args, "--healthy-runs", 1000);
        var runs = IntArg(args, "--runs", 200);
        var seed = IntArg(args, "--seed", 1);
        var tick = IntArg(args, "--tick-seconds", 5);
        var interval = IntArg(args, "--interval-seconds", 60);
        var firstLookArg = IntArg(args, "--first-look-seconds", (int)SequentialSpec.DefaultFirstLook.TotalSeconds);
        int? firstLook = firstLookArg > 0 ? firstLookArg : null; // 0: none (every tick from one tick after the weight change)
        var history = IntArg(args, "--stable-history-seconds", 600);
        var deadline = IntArg(args, "--outage-deadline-seconds", 600);
        var settings = new SequentialSettings(
            Alpha: double.Parse(StringArg(args, "--alpha") ?? "0.05", CultureInfo.InvariantCulture),
            Tolerance: double.Parse(StringArg(args, "--tolerance") ?? "0.1", CultureInfo.InvariantCulture),
            MinRequests: IntArg(args, "--min-requests", SequentialAnalysisRunner.DefaultMinRequests),
            HoldAt: StringArg(args, "--hold-at") is { } holdAt ? double.Parse(holdAt, CultureInfo.InvariantCulture) : SequentialSpec.DefaultHoldAt,
            LatencyFloor: StringArg(args, "--latency-floor-ms") is { } floor ? double.Parse(floor, CultureInfo.InvariantCulture)
                : SequentialSpec.DefaultLatencyFloor / IstioQueries.DurationBucketUnit); // the controller's default, in the histogram's unit
        var maxHold = IntArg(args, "--max-hold-seconds", interval);
        var only = StringArg(args, "--only");
        var loadFactor = double.Parse(StringArg(args, "--load-factor") ?? "1", CultureInfo.InvariantCulture);
        // The sequential judge's rollout starts at a different place on the controller's check grids in each run.
        Func<int, IJudge>[] judges =
        [
            run => new SequentialJudge(interval, tick, firstLook, deadline, settings, GridPhase(run, tick, firstLook), maxHold),
            _ => new FixedWindowJudge(interval),
            _ => new KayentaStyleJudge(interval),
            _ => new FlaggerJudge(interval),
        ];
        // --judges: a subset by name (e.g. only the sequential judge while tuning it: a quarter of the time).
        if (StringArg(args, "--judges") is { } names)
            judges = judges.Where(make => names.Split(',').Contains(make(0).Name, StringComparer.OrdinalIgnoreCase)).ToArray();

        Console.WriteLine($"sequential benchmark: seed {seed}, {healthyRuns} healthy / {runs} regression runs per judge, steps 10..50 every {interval} s, " +
                          $"tick {tick} s, first look {(firstLook is { } f ? $"{f} s" : "none")}, stable history {history} s, alpha {F(settings.Alpha)}, tolerance {F(settings.Tolerance)}, outage deadline {deadline} s, " +
                          $"min requests {F(settings.MinRequests)}, hold {(settings.HoldAt > 0 ? $"at e >= {F(settings.HoldAt)} for at most {maxHold} s" : "none")}, latency floor {F(settings.LatencyFloor)} ms, load x{F(loadFactor)}");
        Console.WriteLine();
        Console.WriteLine("| scenario | judge | runs | rolled back | at 1st step | promoted | bad requests median | p95 | detection median s | p95 s | promotion mean s | p95 s |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var (checks, checkedSeconds) = (0L, 0L);
        var clock = Stopwatch.StartNew();
        foreach (var scenario in Scenario.All().Select(s => s with { RequestsPerSecond = s.RequestsPerSecond * loadFactor }).Where(s => only is null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase)))
        {
            var n = scenario.Runs(healthyRuns, runs);
            foreach (var make in judges)
            {
                var results = new RunResult[n];
                var name = "";
                for (var i = 0; i < n; i++)
                {
                    var judge = make(i);
                    name = judge.Name;
                    results[i] = RolloutSimulation.Run(scenario, judge, seed * 1_000_003 + i, history);
                    if (judge is SequentialJudge sequential && scenario.Healthy && scenario.Outage is null && scenario.RequestsPerSecond > 0)
                        (checks, checkedSeconds) = (checks + sequential.Checks, checkedSeconds + results[i].Seconds);
                }
                Console.WriteLine(Row(scenario, name, results));
                // --bad-counts: how the bad requests are spread (the aims are medians, so the runs at 1, 2, 3... decide them).
                if (args.Contains("--bad-counts") && !scenario.Healthy)
                    Console.WriteLine("|   bad requests per run | " + string.Join(", ", results.GroupBy(r => Math.Min(r.Bad, 10)).OrderBy(g => g.Key)
                        .Select(g => $"{(g.Key == 10 ? "≥10" : g.Key)}: {g.Count()}")) + " |");
            }
        }
        Console.WriteLine();
        if (checkedSeconds > 0)
            Console.WriteLine($"sequential judge, healthy rollouts: {F(60.0 * checks / checkedSeconds)} checks per rollout-minute " +
                              $"(bus messages and batched query rounds; 1,000 Canaries: {F(1000.0 * checks / checkedSeconds)} per second)");
        Console.WriteLine($"wall time {clock.Elapsed.TotalSeconds:0} s, load average {LoadAverage():F1}");
        if (args.Contains("--prometheus"))
            ThroughPrometheus.RunAsync(Scenario.All().Select(s => s with { RequestsPerSecond = s.RequestsPerSecond * loadFactor })
                    .Where(s => only is null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase)),
                IntArg(args, "--prometheus-runs", 2), seed, interval, tick, firstLook, deadline, settings, history).GetAwaiter().GetResult();
        return 0;
    }

    /// <summary>Spreads runs evenly over the period the grids repeat with (the tick's and the first look's common multiple).</summary>
    public static int GridPhase(int run, int tick, int? firstLook)
    {
        var period = tick;
        if (firstLook is { } f and > 0) for (var m = tick; m <= tick * f; m += tick) if (m % f == 0) { period = m; break; }
        return run % period;
    }

    private static string Row(Scenario scenario, string judge, RunResult[] results)
    {
        var rolledBack = results.Count(r => r.Outcome == RunOutcome.RolledBack);
        var promoted = results.Count(r => r.Outcome == RunOutcome.Promoted);
        var atFirst = results.Count(r => r.Outcome == RunOutcome.RolledBack && r.Step == 0);
        var bad = results.Select(r => (double)r.Bad).Order().ToArray();
        var detection = results.Where(r => r.Outcome == RunOutcome.RolledBack).Select(r => (double)r.Seconds).Order().ToArray();
        var badCells = scenario.Healthy ? "– | –" : $"{F(Percentile(bad, 0.5))} | {F(Percentile(bad, 0.95))}";
        // How long the promoted rollouts took: what holding steps costs healthy canaries.
        var promotion = results.Where(r => r.Outcome == RunOutcome.Promoted).Select(r => (double)r.Seconds).Order().ToArray();
        return $"| {scenario.Name} | {judge} | {results.Length} | {Share(rolledBack, results.Length)} | {Share(atFirst, results.Length)} | {Share(promoted, results.Length)} | {badCells} | " +
               $"{(detection.Length == 0 ? "–" : F(Percentile(detection, 0.5)))} | {(detection.Length == 0 ? "–" : F(Percentile(detection, 0.95)))} | " +
               $"{(promotion.Length == 0 ? "–" : F(Math.Round(promotion.Average(), 1)))} | {(promotion.Length == 0 ? "–" : F(Percentile(promotion, 0.95)))} |";
    }

    private static string Share(int count, int total) => $"{count} ({100.0 * count / total:0.#}%)";

    // Nearest-rank percentile of sorted values.
    private static double Percentile(double[] sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}

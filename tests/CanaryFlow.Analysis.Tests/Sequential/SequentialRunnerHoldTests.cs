using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis.Tests.Sequential;

/// <summary>
/// The runner's side of the step hold and of the compact namespace counters: counters answered by a scripted
/// Prometheus (namespace-wide vectors, as the three batched queries return them); the hold is announced in the
/// verdict (its summary and a "sequential:hold" result the saga notes) and ends one maxHold after the interval.
/// </summary>
public class SequentialRunnerHoldTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");
    private static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch.AddDays(20_000);
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Answers the three counter queries with the counters set for each workload; counts the queries.</summary>
    private sealed class ScriptedCounters : IPrometheusClient
    {
        public Dictionary<string, (double Requests, double Errors)> Workloads { get; } = [];
        public int Queries;

        public Task<PromQueryResult> QueryAsync(string promql, DateTimeOffset? time, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Queries);
            IEnumerable<PromSample> samples = promql.Contains("_bucket", StringComparison.Ordinal)
                ? Workloads.SelectMany(w => new[] { ("100", w.Value.Requests), ("+Inf", w.Value.Requests) }
                    .Select(b => Sample(w.Key, b.Item2, ("le", b.Item1))))
                : Workloads.Select(w => Sample(w.Key, promql.Contains("5..", StringComparison.Ordinal) ? w.Value.Errors : w.Value.Requests));
            return Task.FromResult(new PromQueryResult(PromResultType.Vector, samples.ToArray(), [], null, null, []));
        }

        public Task<PromQueryResult> QueryRangeAsync(string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        private static PromSample Sample(string workload, double value, params (string Name, string Value)[] more)
        {
            var labels = new Dictionary<string, string> { ["destination_workload"] = workload, ["destination_workload_namespace"] = "shop" };
            foreach (var (name, v) in more) labels[name] = v;
            return new PromSample(labels, new PromPoint(DateTimeOffset.UnixEpoch, value));
        }
    }

    private sealed class NoThresholds : IAnalysisRunner
    {
        public Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken) => throw new InvalidOperationException("no thresholds in this spec");
    }

    private readonly ScriptedCounters _prometheus = new();

    private SequentialAnalysisRunner Runner() => new(_prometheus, new PrometheusOptions { Address = "http://127.0.0.1:9" }, TimeProvider.System, new NoThresholds());

    private static AnalysisDue Due(TimeSpan age, string? state, double? holdAt = 10, TimeSpan? maxHold = null) => new(
        Guid.NewGuid(), Guid.NewGuid(), Target, "v2", 20, 1, Start + age, Interval,
        new AnalysisSpec(50, [], null, new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(2), holdAt, maxHold)),
        state, Start);

    /// <summary>The baseline, then two canary 5xx and none of stable's at a 20% split (e ≈ 17.2: hold at 10, reject at 40).</summary>
    private async Task<string?> StrongButNotDecisiveAsync(SequentialAnalysisRunner runner, double? holdAt = 10, TimeSpan? maxHold = null)
    {
        _prometheus.Workloads["checkout"] = (0, 0);
        _prometheus.Workloads["checkout-primary"] = (0, 0);
        var baseline = await runner.RunAsync(Due(TimeSpan.Zero, null, holdAt, maxHold), CancellationToken.None);
        _prometheus.Workloads["checkout"] = (200, 2);
        _prometheus.Workloads["checkout-primary"] = (800, 0);
        return baseline.State;
    }

    [Fact]
    public async Task A_step_with_strong_evidence_is_held_after_its_interval_and_the_verdict_says_so()
    {
        var runner = Runner();
        var state = await StrongButNotDecisiveAsync(runner);

        var verdict = await runner.RunAsync(Due(Interval, state), CancellationToken.None);

        Assert.Equal(VerdictOutcome.NoData, verdict.Outcome);
        Assert.StartsWith("Held: sequential, canary shop/checkout at 20%; step held: error-rate e=17.158 ≥ 10", verdict.Evidence.Summary);
        var hold = Assert.Single(verdict.Evidence.Metrics, m => m.Name == SequentialAnalysisRunner.HoldMetric);
        Assert.Equal((10.0, "hold"), (hold.Max!.Value, hold.Outcome));
        Assert.Equal(2, SequentialState.Deserialize(verdict.State)!.Errors.CanaryEvents); // read from the compact counters
    }

    [Theory]
    [InlineData(null, 120)]   // no maxHold: one more interval
    [InlineData(30, 90)]      // maxHold: 30s
    public async Task A_held_step_passes_once_its_interval_and_the_longest_hold_are_over(int? maxHoldSeconds, int passesAtSeconds)
    {
        var runner = Runner();
        var maxHold = maxHoldSeconds is { } m ? TimeSpan.FromSeconds(m) : (TimeSpan?)null;
        var state = await StrongButNotDecisiveAsync(runner, maxHold: maxHold);

        var before = await runner.RunAsync(Due(TimeSpan.FromSeconds(passesAtSeconds - 5), state, maxHold: maxHold), CancellationToken.None);
        var after = await runner.RunAsync(Due(TimeSpan.FromSeconds(passesAtSeconds), state, maxHold: maxHold), CancellationToken.None);

        Assert.StartsWith("Held:", before.Evidence.Summary);
        Assert.Equal(VerdictOutcome.Passed, after.Outcome);
        Assert.DoesNotContain(after.Evidence.Metrics, m => m.Name == SequentialAnalysisRunner.HoldMetric);
    }

    [Fact]
    public async Task A_plan_without_a_hold_passes_the_same_evidence_at_its_interval()
    {
        var runner = Runner();
        var state = await StrongButNotDecisiveAsync(runner, holdAt: null);
        Assert.Equal(VerdictOutcome.Passed, (await runner.RunAsync(Due(Interval, state, holdAt: null), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Checks_at_one_grid_point_share_one_set_of_counter_queries()
    {
        var runner = Runner();
        _prometheus.Workloads["checkout"] = (100, 0);
        _prometheus.Workloads["checkout-primary"] = (900, 0);
        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => runner.RunAsync(Due(TimeSpan.Zero, null), CancellationToken.None)));
        Assert.Equal(3, _prometheus.Queries);
    }
}

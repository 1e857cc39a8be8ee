using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;
using static CanaryFlow.Analysis.Tests.RealPrometheus.RealPrometheusFixture;

namespace CanaryFlow.Analysis.Tests.RealPrometheus;

[Collection(RealPrometheusCollection.Name)]
public sealed class AnalysisAgainstPrometheusTests(RealPrometheusFixture fixture)
{
    private static readonly MetricSpec SuccessRate = new(IstioQueries.SuccessRate, Min: 99);
    private static readonly MetricSpec Duration = new(IstioQueries.Duration, Max: 500);
    private static readonly AnalysisSpec Spec = new(MinRequests: 20, [SuccessRate, Duration]);

    private static AnalysisRequest Request(string canary, AnalysisSpec? spec = null) =>
        new(new RolloutTarget(Namespace, canary), canary, Stable(canary), Interval, spec ?? Spec, DateTimeOffset.UtcNow);

    private async Task<AnalysisVerdict> CheckAsync(string canary, AnalysisSpec? spec = null)
    {
        using var client = fixture.CreateClient();
        var runner = new PrometheusAnalysisRunner(client, fixture.Options(), TimeProvider.System);
        return await runner.RunAsync(Request(canary, spec), CancellationToken.None);
    }

    private static MetricResult Metric(AnalysisVerdict verdict, string name) => verdict.Evidence.Metrics.Single(m => m.Name == name);

    [Fact]
    public async Task A_healthy_canary_passes()
    {
        var verdict = await CheckAsync(Healthy);
        Assert.True(verdict.Outcome == VerdictOutcome.Passed, verdict.Evidence.Summary);
        // Prometheus computes the ratio of two rates: 100 can come back as 100.00000000000001 (a CI run did).
        Assert.Equal(100, Metric(verdict, IstioQueries.SuccessRate).Value!.Value, precision: 9);
        Assert.True(Metric(verdict, IstioQueries.Duration).Value < 500);
    }

    [Fact]
    public async Task A_canary_with_20_percent_5xx_fails_with_its_success_rate_in_evidence()
    {
        var verdict = await CheckAsync(Flaky);
        Assert.True(verdict.Outcome == VerdictOutcome.Failed, verdict.Evidence.Summary);
        var rate = Metric(verdict, IstioQueries.SuccessRate);
        Assert.Equal("fail", rate.Outcome);
        Assert.InRange(rate.Value!.Value, 70, 90);
        Assert.Equal(99, rate.Min);
        Assert.Contains("request-success-rate fail", verdict.Evidence.Summary);
    }

    [Fact]
    public async Task A_canary_with_a_500ms_P99_fails()
    {
        var verdict = await CheckAsync(Slow);
        Assert.True(verdict.Outcome == VerdictOutcome.Failed, verdict.Evidence.Summary);
        var p99 = Metric(verdict, IstioQueries.Duration);
        Assert.Equal("fail", p99.Outcome);
        Assert.True(p99.Value > 500, $"P99 {p99.Value}");
        Assert.Equal("pass", Metric(verdict, IstioQueries.SuccessRate).Outcome);
    }

    [Fact]
    public async Task A_threshold_check_reports_stable_beside_the_canary_from_the_same_query()
    {
        var slow = await CheckAsync(Slow);
        Assert.Equal(100, Metric(slow, IstioQueries.SuccessRate).Baseline!.Value, 6);
        Assert.True(Metric(slow, IstioQueries.Duration).Baseline < 500, $"stable P99 {Metric(slow, IstioQueries.Duration).Baseline}");
        var flaky = await CheckAsync(Flaky); // no stable workload serves traffic: no value, not 0
        Assert.Null(Metric(flaky, IstioQueries.SuccessRate).Baseline);
    }

    [Fact]
    public async Task A_canary_with_too_little_traffic_is_NoData_never_passed()
    {
        var verdict = await CheckAsync(Quiet, Spec with { MinRequests = 100 });
        Assert.True(verdict.Outcome == VerdictOutcome.NoData, verdict.Evidence.Summary);
        var count = Metric(verdict, "request-count");
        Assert.InRange(count.Value!.Value, 1, 99); // it had some traffic, just not enough
    }

    [Fact]
    public async Task A_canary_answering_every_request_with_5xx_fails_its_first_check()
    {
        var verdict = await CheckAsync(Broken);
        Assert.True(verdict.Outcome == VerdictOutcome.Failed, verdict.Evidence.Summary);
        Assert.Equal(0, Metric(verdict, IstioQueries.SuccessRate).Value);
    }

    [Fact]
    public async Task Bad_PromQL_is_a_QueryError_distinct_from_a_failure()
    {
        var spec = new AnalysisSpec(20, [new MetricSpec("custom", Query: "sum(rate(istio_requests_total{{", Max: 1)]);
        var verdict = await CheckAsync(Healthy, spec);
        Assert.True(verdict.Outcome == VerdictOutcome.QueryError, verdict.Evidence.Summary);
        Assert.Contains("bad_data", Metric(verdict, "custom").Detail);
    }

    [Fact]
    public async Task A_NaN_custom_metric_is_NoData()
    {
        var spec = new AnalysisSpec(20, [new MetricSpec("ratio", Query: "0/0", Max: 1)]);
        var verdict = await CheckAsync(Healthy, spec);
        Assert.True(verdict.Outcome == VerdictOutcome.NoData, verdict.Evidence.Summary);
    }

    [Fact]
    public async Task A_custom_template_is_rendered_with_namespace_target_and_interval()
    {
        var query = "sum(increase(istio_requests_total{destination_workload_namespace=\"{{namespace}}\",destination_workload=\"{{target}}\",response_code=~\"5..\"}[{{interval}}])) or vector(0)";
        var verdict = await CheckAsync(Healthy, new AnalysisSpec(20, [new MetricSpec("errors", Query: query, Max: 0)]));
        Assert.True(verdict.Outcome == VerdictOutcome.Passed, verdict.Evidence.Summary);
        var flaky = await CheckAsync(Flaky, new AnalysisSpec(20, [new MetricSpec("errors", Query: query, Max: 0)]));
        Assert.True(flaky.Outcome == VerdictOutcome.Failed, flaky.Evidence.Summary);
    }

    [Fact]
    public async Task Comparison_with_stable_classifies_a_slow_canary_High_and_fails()
    {
        var spec = new AnalysisSpec(20, [new MetricSpec(IstioQueries.Duration)], new ComparisonSpec());
        var verdict = await CheckAsync(Slow, spec);
        Assert.True(verdict.Outcome == VerdictOutcome.Failed, verdict.Evidence.Summary);
        var comparison = Metric(verdict, "request-duration:comparison");
        Assert.Equal("high", comparison.Outcome);
        Assert.True(comparison.PValue < 0.05, $"p = {comparison.PValue}");
        Assert.True(comparison.Value > comparison.Baseline);
    }

    [Fact]
    public async Task With_UseBaseline_the_canary_is_compared_with_the_baseline_workload_not_the_stable()
    {
        // The "baseline" here is a workload as slow as the canary, so only a comparison against it
        // (and not against the fast stable) can pass.
        var spec = new AnalysisSpec(20, [new MetricSpec(IstioQueries.Duration)], new ComparisonSpec(UseBaseline: true));
        using var client = fixture.CreateClient();
        var runner = new PrometheusAnalysisRunner(client, fixture.Options(), TimeProvider.System);
        var verdict = await runner.RunAsync(Request(Slow, spec) with { BaselineWorkload = Slow }, CancellationToken.None);
        Assert.True(verdict.Outcome == VerdictOutcome.Passed, verdict.Evidence.Summary);
        Assert.Contains($" {Slow} samples", Metric(verdict, "request-duration:comparison").Detail);
    }

    [Fact]
    public async Task Comparison_with_stable_passes_a_canary_that_behaves_like_it()
    {
        var spec = new AnalysisSpec(20, [new MetricSpec(IstioQueries.SuccessRate)], new ComparisonSpec());
        var verdict = await CheckAsync(Healthy, spec);
        Assert.True(verdict.Outcome == VerdictOutcome.Passed, verdict.Evidence.Summary);
        Assert.Equal("pass", Metric(verdict, "request-success-rate:comparison").Outcome);
    }

    [Fact]
    public async Task Concurrent_checks_in_one_namespace_share_one_query_per_metric_once_their_workloads_are_known()
    {
        using var client = fixture.CreateClient();
        var runner = new PrometheusAnalysisRunner(client, fixture.Options(), TimeProvider.System);
        var at = DateTimeOffset.UtcNow.AddSeconds(-2);
        string[] canaries = [Healthy, Flaky, Slow, Broken, .. Enumerable.Range(0, 46).Select(i => $"absent-{i}")];
        // First checks: a query names the workloads asked for when it is sent, so checks that ask after it take a later
        // tier (one for the first check, one for the others that asked meanwhile), never one query each.
        var first = await Task.WhenAll(canaries.Select(c => runner.RunAsync(Request(c) with { At = at }, CancellationToken.None)));
        var firstQueries = client.QueriesAsked;
        Assert.InRange(firstQueries, 3, 3 * 4);

        // Their next checks: every workload is known, one query per metric (request count, 5xx count, P99) for all 50.
        var verdicts = await Task.WhenAll(canaries.Select(c => runner.RunAsync(Request(c) with { At = at.AddSeconds(2) }, CancellationToken.None)));
        Assert.Equal(3, client.QueriesAsked - firstQueries);
        foreach (var v in new[] { first, verdicts })
        {
            Assert.Equal(VerdictOutcome.Passed, v[0].Outcome);
            Assert.Equal(VerdictOutcome.Failed, v[1].Outcome);
            Assert.All(v.Skip(4), x => Assert.Equal(VerdictOutcome.NoData, x.Outcome));
        }
    }

    [Fact]
    public async Task Prometheus_stopped_mid_analysis_gives_QueryError_then_recovers_after_restart()
    {
        using var client = fixture.CreateClient(breakDuration: TimeSpan.FromSeconds(1));
        var runner = new PrometheusAnalysisRunner(client, fixture.Options(TimeSpan.FromSeconds(1)), TimeProvider.System);
        Assert.Equal(VerdictOutcome.Passed, (await runner.RunAsync(Request(Healthy), CancellationToken.None)).Outcome);

        await fixture.Prometheus.StopAsync();
        // The next tick: past the batch window, so the answer cached for the first check is not reused.
        await Task.Delay(fixture.Options().BatchWindow + TimeSpan.FromMilliseconds(100));
        AnalysisVerdict during;
        try
        {
            during = await runner.RunAsync(Request(Healthy), CancellationToken.None);
        }
        finally
        {
            await fixture.Prometheus.StartAsync();
        }
        Assert.True(during.Outcome == VerdictOutcome.QueryError, during.Evidence.Summary);
        Assert.Equal("error", during.Evidence.Metrics.Single().Outcome);

        // After the restart the scrapes resume; the check passes again within a bounded wait.
        var after = during;
        for (var attempt = 0; attempt < 40 && after.Outcome != VerdictOutcome.Passed; attempt++)
        {
            await Task.Delay(500);
            after = await runner.RunAsync(Request(Healthy), CancellationToken.None);
        }
        Assert.True(after.Outcome == VerdictOutcome.Passed, after.Evidence.Summary);
    }
}

using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Contracts;
using static CanaryFlow.Analysis.Tests.RealPrometheus.RealPrometheusFixture;

namespace CanaryFlow.Analysis.Tests.RealPrometheus;

/// <summary>Sequential ticks against a real Prometheus scraping Istio-style counters of demo workloads.</summary>
[Collection(RealPrometheusCollection.Name)]
public sealed class SequentialAgainstPrometheusTests(RealPrometheusFixture fixture)
{
    private static readonly SequentialSpec Spec = new(0.05, 0.1, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10));

    private static AnalysisDue Due(string canary, string? state, int weight = 50) => new(
        Guid.NewGuid(), Guid.NewGuid(), new RolloutTarget(Namespace, canary), "v2", weight, 1, DateTimeOffset.UtcNow, Interval,
        new AnalysisSpec(5, [], null, Spec), state, DateTimeOffset.UtcNow - TimeSpan.FromHours(1));

    /// <summary>Ticks every 2 s (Prometheus scrapes every second) until a decision or the bound.</summary>
    private async Task<(SequentialVerdict Verdict, int Ticks)> TickUntilDecidedAsync(string canary, int weight, int maxTicks = 15)
    {
        using var client = fixture.CreateClient();
        var runner = new SequentialAnalysisRunner(client, fixture.Options(), TimeProvider.System, new PrometheusAnalysisRunner(client, fixture.Options(), TimeProvider.System));
        string? state = null;
        SequentialVerdict verdict = null!;
        for (var tick = 1; tick <= maxTicks; tick++)
        {
            verdict = await runner.RunAsync(Due(canary, state, weight), CancellationToken.None);
            if (verdict.Outcome is not VerdictOutcome.NoData) return (verdict, tick);
            state = verdict.State;
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        return (verdict, maxTicks);
    }

    [Fact]
    public async Task A_canary_failing_every_request_at_10_percent_is_rejected_by_the_error_rate_test_within_seconds()
    {
        var (verdict, ticks) = await TickUntilDecidedAsync(Failing, weight: 10);
        Assert.True(verdict.Outcome == VerdictOutcome.Failed && verdict.Decisive, verdict.Evidence.Summary);
        Assert.Contains("error-rate test rejected", verdict.Evidence.Summary);
        Assert.InRange(ticks, 2, 4); // the first tick is the counters' baseline
        var evidence = SequentialState.Deserialize(verdict.State)!;
        Assert.Equal(evidence.Errors.CanaryExposure, evidence.Errors.CanaryEvents);
    }

    [Fact]
    public async Task A_canary_slower_than_its_stable_is_rejected_by_the_latency_tail_test()
    {
        var (verdict, _) = await TickUntilDecidedAsync(Slow, weight: 50);
        Assert.True(verdict.Outcome == VerdictOutcome.Failed && verdict.Decisive, verdict.Evidence.Summary);
        Assert.Contains("latency-tail test rejected", verdict.Evidence.Summary);
    }

    [Fact]
    public async Task A_healthy_canary_passes_once_the_minimum_evidence_is_in_and_its_state_round_trips()
    {
        var (verdict, _) = await TickUntilDecidedAsync(Healthy, weight: 50);
        Assert.True(verdict.Outcome == VerdictOutcome.Passed, verdict.Evidence.Summary);
        var evidence = SequentialState.Deserialize(verdict.State)!;
        Assert.True(evidence.Errors.CanaryExposure >= 5 && evidence.Errors.StableExposure >= 5, verdict.Evidence.Summary);
        Assert.Equal(0, evidence.Errors.CanaryEvents);
        Assert.Equal(verdict.State, SequentialState.Serialize(evidence));
    }

    [Fact]
    public async Task An_unreachable_Prometheus_is_a_QueryError_that_keeps_the_evidence_unchanged()
    {
        var options = fixture.Options();
        options.Address = "http://127.0.0.1:9/"; // discard port: nothing listens
        using var client = new PrometheusClient(options, TimeProvider.System);
        var runner = new SequentialAnalysisRunner(client, options, TimeProvider.System, new PrometheusAnalysisRunner(client, options, TimeProvider.System));
        var saved = SequentialState.Serialize(SequentialEvidence.Start(new SequentialSettings()));
        var verdict = await runner.RunAsync(Due(Healthy, saved), CancellationToken.None);
        Assert.Equal(VerdictOutcome.QueryError, verdict.Outcome);
        Assert.Equal(saved, verdict.State);
        Assert.False(verdict.Decisive);
    }
}

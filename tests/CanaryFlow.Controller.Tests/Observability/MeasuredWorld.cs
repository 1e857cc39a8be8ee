using System.Collections.Concurrent;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Tests.Observability;

/// <summary>
/// Stand-in for the cluster and Prometheus whose checks report both built-in metrics for canary and
/// stable, as the real analysis does, so that timelines, charts and reports have values to draw.
/// A release "breaks" once its canary weight reaches <see cref="Target.FailFromWeight"/>.
/// (Shared as a linked source file with the browser tests.)
/// </summary>
public sealed class MeasuredWorld : ITrafficRouter, IWorkloadController, IAnalysisRunner
{
    private readonly ConcurrentDictionary<RolloutTarget, Target> _targets = new();

    public sealed class Target
    {
        public int CanaryWeight;
        public int FailFromWeight = int.MaxValue;
        public int Checks;
    }

    public Target this[RolloutTarget target] => _targets.GetOrAdd(target, _ => new Target());

    public Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken) =>
        Task.FromResult(new TrafficWeights(100 - this[target].CanaryWeight, this[target].CanaryWeight));

    public Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken)
    {
        var before = this[target].CanaryWeight;
        this[target].CanaryWeight = canaryWeight;
        return Task.FromResult(new TrafficWeights(100 - before, before));
    }

    public Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken) => Task.FromResult(WorkloadResult.Ok);

    public Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken) => Task.FromResult(WorkloadResult.Ok);

    public Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        var t = this[request.Target];
        var check = Interlocked.Increment(ref t.Checks);
        var broken = t.CanaryWeight >= t.FailFromWeight;
        var success = new MetricResult(RolloutMetricNames.SuccessRate, broken ? 91 : 99.6, 99, null, broken ? "fail" : "pass", Baseline: 99.7);
        var latency = new MetricResult(RolloutMetricNames.Duration, broken ? 840 : 120 + check, null, 500, broken ? "fail" : "pass", Baseline: 115);
        var evidence = new AnalysisEvidence($"check {check} at {t.CanaryWeight}%: success {success.Value:0.0}%, P99 {latency.Value} ms", [success, latency]);
        return Task.FromResult(new AnalysisVerdict(broken ? VerdictOutcome.Failed : VerdictOutcome.Passed, evidence));
    }
}

internal static class RolloutMetricNames
{
    public const string SuccessRate = CanaryFlow.Controller.Observability.RolloutTimeline.SuccessRateMetric;
    public const string Duration = CanaryFlow.Controller.Observability.RolloutTimeline.DurationMetric;
}

using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis;

/// <summary>Seam: run one analysis check for a rollout and return a verdict with its evidence.</summary>
public interface IAnalysisRunner
{
    Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken);
}

/// <param name="Target">The canary's target Deployment (namespace/name).</param>
/// <param name="CanaryWorkload">Workload name of the canary pods (Istio destination_workload), e.g. "podinfo".</param>
/// <param name="StableWorkload">Workload name of the stable pods, e.g. "podinfo-primary".</param>
/// <param name="Interval">The window each metric is measured over (the analysis interval).</param>
/// <param name="At">Evaluation time (end of the window).</param>
/// <param name="BaselineWorkload">With <see cref="ComparisonSpec.UseBaseline"/>: the baseline Deployment's workload
/// (default "&lt;target&gt;-baseline"), compared against the canary instead of the stable pods.</param>
public sealed record AnalysisRequest(
    RolloutTarget Target,
    string CanaryWorkload,
    string StableWorkload,
    TimeSpan Interval,
    AnalysisSpec Spec,
    DateTimeOffset At,
    string? BaselineWorkload = null);

public enum VerdictOutcome { Passed, Failed, NoData, QueryError }

/// <summary>A check's outcome with the values that explain it.</summary>
public sealed record AnalysisVerdict(VerdictOutcome Outcome, AnalysisEvidence Evidence);

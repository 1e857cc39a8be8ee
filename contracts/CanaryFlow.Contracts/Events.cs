namespace CanaryFlow.Contracts;

// Facts: what happened. Published by the saga or by the worker that carried out a decision.

public sealed record RolloutStarted(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, string? StableRevision, string Actor, DateTimeOffset At);

public sealed record CanaryReady(Guid CorrelationId, Guid RolloutId, long Sequence, DateTimeOffset At);

public sealed record CanaryNotReady(Guid CorrelationId, Guid RolloutId, long Sequence, string Reason, DateTimeOffset At);

/// <summary>A worker applied the writes of a preparation or promotion (command <paramref name="Sequence"/>) and the
/// Deployment is not available yet: the rollout records when (its deadline counts from then) and the ticker asks again.</summary>
public sealed record WorkApplied(Guid CorrelationId, Guid RolloutId, long Sequence, string Reason, DateTimeOffset At);

public sealed record TrafficShifted(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, int FromWeight, int ToWeight, long Sequence, DateTimeOffset At);

/// <summary>Applying weights failed after retries (API unreachable, object missing). The saga retries later or rolls back.</summary>
public sealed record TrafficShiftFailed(Guid CorrelationId, Guid RolloutId, int Weight, long Sequence, string Reason, DateTimeOffset At);

/// <param name="SequentialState">Sequential mode: the running evidence after this check, kept with the rollout.</param>
public sealed record AnalysisPassed(Guid CorrelationId, Guid RolloutId, long Sequence, AnalysisEvidence Evidence, DateTimeOffset At, string? SequentialState = null);

/// <param name="Decisive">A sequential test rejected "canary no worse than stable": roll back now, whatever the failure limit.</param>
public sealed record AnalysisFailed(Guid CorrelationId, Guid RolloutId, long Sequence, AnalysisEvidence Evidence, DateTimeOffset At, string? SequentialState = null, bool Decisive = false);

/// <summary>No verdict: no data or too little traffic (<see cref="InconclusiveKind.NoData"/>) or the query failed (<see cref="InconclusiveKind.QueryError"/>). Never a pass.</summary>
public sealed record AnalysisInconclusive(Guid CorrelationId, Guid RolloutId, long Sequence, InconclusiveKind Kind, AnalysisEvidence Evidence, DateTimeOffset At, string? SequentialState = null);

/// <param name="Accumulating">Sequential mode: evidence recorded, no decision yet (nothing counts against the canary).</param>
public enum InconclusiveKind { NoData, QueryError, Accumulating }

public sealed record RolloutPaused(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Actor, string Reason, DateTimeOffset At);

public sealed record RolloutResumed(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Actor, string Reason, DateTimeOffset At);

public sealed record RolloutAwaitingApproval(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, int Weight, DateTimeOffset At);

/// <summary>The stable Deployment now runs the new revision and takes 100% of traffic; the canary is scaled to zero.</summary>
public sealed record RolloutPromoted(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, long Sequence, DateTimeOffset At);

/// <summary>Promotion could not finish (stable did not become available); traffic stays on the healthy canary.</summary>
public sealed record PromotionFailed(Guid CorrelationId, Guid RolloutId, long Sequence, string Reason, DateTimeOffset At);

public sealed record RolloutSucceeded(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, DateTimeOffset At);

/// <summary>All traffic is on stable and the canary is at zero replicas.</summary>
public sealed record RolloutRolledBack(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Cause, long Sequence, DateTimeOffset At);

public sealed record RolloutSuperseded(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, string NewRevision, DateTimeOffset At);

public sealed record RolloutFailed(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, string Cause, DateTimeOffset At);

/// <summary>The target's Canary is gone from the cluster (its finalizer removed, or deleted without one): observers that
/// keep something per target (every replica's metrics) forget it. Published by the replica that watched it go.</summary>
public sealed record CanaryDeleted(Guid CorrelationId, RolloutTarget Target, DateTimeOffset At);

/// <summary>The values behind a verdict, so that every verdict explains itself.</summary>
public sealed record AnalysisEvidence(string Summary, IReadOnlyList<MetricResult> Metrics);

/// <summary>
/// One metric's measurement. <paramref name="Outcome"/> is "pass", "fail", "nodata", "error", or for
/// comparisons "high"/"low". <paramref name="Baseline"/> is the stable (or baseline) value where compared.
/// </summary>
public sealed record MetricResult(
    string Name,
    double? Value,
    double? Min,
    double? Max,
    string Outcome,
    double? Baseline = null,
    double? PValue = null,
    string? Detail = null);

using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis;

/// <summary>
/// The translation between the bus contracts and the runner, so the worker that consumes
/// <see cref="AnalysisDue"/> stays a few lines: request in, one event out.
/// </summary>
public static class AnalysisMessages
{
    /// <summary>A check for a due tick: the canary workload is the target itself, evaluated at the due time.</summary>
    public static AnalysisRequest RequestFor(AnalysisDue due) =>
        new(due.Target, WorkloadNames.Canary(due.Target), WorkloadNames.Stable(due.Target), due.Interval, due.Spec, due.DueAt);

    /// <summary>AnalysisPassed, AnalysisFailed or AnalysisInconclusive (NoData or QueryError), carrying the evidence.</summary>
    public static object ToEvent(AnalysisDue due, AnalysisVerdict verdict, DateTimeOffset at) => verdict.Outcome switch
    {
        VerdictOutcome.Passed => new AnalysisPassed(due.CorrelationId, due.RolloutId, due.Sequence, verdict.Evidence, at),
        VerdictOutcome.Failed => new AnalysisFailed(due.CorrelationId, due.RolloutId, due.Sequence, verdict.Evidence, at),
        VerdictOutcome.NoData => new AnalysisInconclusive(due.CorrelationId, due.RolloutId, due.Sequence, InconclusiveKind.NoData, verdict.Evidence, at),
        VerdictOutcome.QueryError => new AnalysisInconclusive(due.CorrelationId, due.RolloutId, due.Sequence, InconclusiveKind.QueryError, verdict.Evidence, at),
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict.Outcome, "unknown outcome"),
    };

    /// <summary>A sequential tick's event: the running evidence rides along; no decision yet is Accumulating.</summary>
    public static object ToEvent(AnalysisDue due, SequentialVerdict verdict, DateTimeOffset at) => verdict.Outcome switch
    {
        VerdictOutcome.Passed => new AnalysisPassed(due.CorrelationId, due.RolloutId, due.Sequence, verdict.Evidence, at, verdict.State),
        VerdictOutcome.Failed => new AnalysisFailed(due.CorrelationId, due.RolloutId, due.Sequence, verdict.Evidence, at, verdict.State, verdict.Decisive),
        VerdictOutcome.NoData => new AnalysisInconclusive(due.CorrelationId, due.RolloutId, due.Sequence, InconclusiveKind.Accumulating, verdict.Evidence, at, verdict.State),
        VerdictOutcome.QueryError => new AnalysisInconclusive(due.CorrelationId, due.RolloutId, due.Sequence, InconclusiveKind.QueryError, verdict.Evidence, at, verdict.State),
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict.Outcome, "unknown outcome"),
    };
}

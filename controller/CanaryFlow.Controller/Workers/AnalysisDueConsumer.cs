using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>Runs one analysis check when it is due and reports the verdict as a fact.
/// A runner that throws is a query error: inconclusive, never a pass.</summary>
public sealed class AnalysisDueConsumer(IAnalysisRunner runner, TimeProvider clock, ILogger<AnalysisDueConsumer> log)
    : IConsumer<AnalysisDue>
{
    public async Task Consume(ConsumeContext<AnalysisDue> context)
    {
        var m = context.Message;
        var now = clock.GetUtcNow();
        AnalysisVerdict verdict;
        try
        {
            var request = new AnalysisRequest(m.Target, WorkloadNames.Canary(m.Target), WorkloadNames.Stable(m.Target), m.Interval, m.Spec, now);
            verdict = await runner.RunAsync(request, context.CancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning(e, "Analysis of {Target} failed to run", m.Target);
            verdict = new AnalysisVerdict(VerdictOutcome.QueryError, new AnalysisEvidence($"analysis could not run: {e.Message}", []));
        }

        now = clock.GetUtcNow();
        await (verdict.Outcome switch
        {
            VerdictOutcome.Passed => context.Publish(new AnalysisPassed(m.CorrelationId, m.RolloutId, m.Sequence, verdict.Evidence, now)),
            VerdictOutcome.Failed => context.Publish(new AnalysisFailed(m.CorrelationId, m.RolloutId, m.Sequence, verdict.Evidence, now)),
            VerdictOutcome.NoData => context.Publish(new AnalysisInconclusive(m.CorrelationId, m.RolloutId, m.Sequence, InconclusiveKind.NoData, verdict.Evidence, now)),
            _ => context.Publish(new AnalysisInconclusive(m.CorrelationId, m.RolloutId, m.Sequence, InconclusiveKind.QueryError, verdict.Evidence, now)),
        });
    }
}

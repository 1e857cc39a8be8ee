using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hooks;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>Runs one analysis check when it is due and reports the verdict as a fact.
/// A runner that throws is a query error: inconclusive, never a pass.</summary>
public sealed class AnalysisDueConsumer(IAnalysisRunner runner, HookRunner hooks, TimeProvider clock, ILogger<AnalysisDueConsumer> log)
    : IConsumer<AnalysisDue>
{
    public async Task Consume(ConsumeContext<AnalysisDue> context)
    {
        var due = context.Message;
        // The rollout hooks run beside the check; a failing one fails it (Hooks/HookRunner.WithHooks).
        var hooksRun = hooks.RunAsync(due.Hooks ?? [], HookCall.For(due), context, context.CancellationToken);
        AnalysisVerdict verdict;
        try
        {
            verdict = await runner.RunAsync(AnalysisMessages.RequestFor(due), context.CancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning(e, "Analysis of {Target} failed to run", due.Target);
            verdict = new AnalysisVerdict(VerdictOutcome.QueryError, new AnalysisEvidence($"analysis could not run: {e.Message}", []));
        }
        verdict = HookRunner.WithHooks(verdict, await hooksRun);
        await context.Publish(AnalysisMessages.ToEvent(due, verdict, clock.GetUtcNow()), context.CancellationToken);
    }
}

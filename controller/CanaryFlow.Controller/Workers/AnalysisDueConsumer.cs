using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hooks;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>Runs one analysis check when it is due and reports the verdict as a fact.
/// A runner that throws is a query error: inconclusive, never a pass. A sequential spec goes to the
/// sequential runner (one tick of the running tests); without one registered, it is a query error.</summary>
public sealed class AnalysisDueConsumer(
    IAnalysisRunner runner, IEnumerable<ISequentialAnalysisRunner> sequentialRunners, HookRunner hooks, TimeProvider clock, ILogger<AnalysisDueConsumer> log)
    : IConsumer<AnalysisDue>
{
    public async Task Consume(ConsumeContext<AnalysisDue> context)
    {
        var due = context.Message;
        // The rollout hooks run beside a fixed-window check, and in sequential mode at a step's first tick and once
        // per interval after (Hooks/SequentialHooks); a failing one fails the check either way.
        var hooksRun = due.Spec.Sequential is null || SequentialHooks.Due(due)
            ? hooks.RunAsync(due.Hooks ?? [], HookCall.For(due), context, context.CancellationToken)
            : Task.FromResult<IReadOnlyList<HookResult>>([]);
        object outcome;
        try
        {
            outcome = due.Spec.Sequential is null
                ? AnalysisMessages.ToEvent(due, HookRunner.WithHooks(await runner.RunAsync(AnalysisMessages.RequestFor(due), context.CancellationToken), await hooksRun), clock.GetUtcNow())
                : AnalysisMessages.ToEvent(due, SequentialHooks.With(await Sequential().RunAsync(due, context.CancellationToken), await hooksRun), clock.GetUtcNow());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning(e, "Analysis of {Target} failed to run", due.Target);
            var evidence = new AnalysisEvidence($"analysis could not run: {e.Message}", []);
            outcome = new AnalysisInconclusive(due.CorrelationId, due.RolloutId, due.Sequence, InconclusiveKind.QueryError, evidence, clock.GetUtcNow(), due.SequentialState);
        }
        await context.Publish(outcome, outcome.GetType(), context.CancellationToken);
    }

    private ISequentialAnalysisRunner Sequential() =>
        sequentialRunners.FirstOrDefault() ?? throw new InvalidOperationException("sequential analysis is not available in this host");
}

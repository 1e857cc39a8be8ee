using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Hooks;

/// <summary>
/// Asks the hooks the ticker found due. Pre-rollout hooks are the check before any traffic: all ok is
/// AnalysisPassed, anything else AnalysisFailed (counted against the failure limit, so a failing one rolls back
/// before any traffic). A confirm-* gate's hooks all saying yes publish the ordinary <see cref="PromoteRollout"/>, as
/// <c>hook:&lt;name&gt;</c>, carrying the gate's sequence so it can pass that gate only; a no publishes nothing and
/// the ticker asks again next interval.
/// </summary>
public sealed class HooksDueConsumer(HookRunner runner, TimeProvider clock) : IConsumer<HooksDue>
{
    public async Task Consume(ConsumeContext<HooksDue> context)
    {
        var due = context.Message;
        var results = await runner.RunAsync(due.Hooks, HookCall.For(due), context, context.CancellationToken);
        var failed = results.Where(r => !r.Ok).ToList();
        var summary = failed.Count == 0
            ? $"{due.Type} hooks said yes: {string.Join(", ", results.Select(r => r.Hook.Name))}"
            : string.Join("; ", failed.Select(r => $"{due.Type} hook {r.Hook.Name} {r.Outcome}: {r.Detail}"));
        if (due.Type == HookTypes.PreRollout)
        {
            var evidence = new AnalysisEvidence(summary, results.Select(r => r.ToMetric()).ToList());
            object verdict = failed.Count == 0
                ? new AnalysisPassed(due.CorrelationId, due.RolloutId, due.Sequence, evidence, clock.GetUtcNow())
                : new AnalysisFailed(due.CorrelationId, due.RolloutId, due.Sequence, evidence, clock.GetUtcNow());
            await context.Publish(verdict, verdict.GetType(), context.CancellationToken);
        }
        else if (HookTypes.IsGate(due.Type) && failed.Count == 0 && results.Count > 0)
        {
            var actor = "hook:" + string.Join(",", results.Select(r => r.Hook.Name));
            await context.Publish(new PromoteRollout(due.CorrelationId, due.Target, actor, summary, due.Sequence), context.CancellationToken);
        }
    }
}

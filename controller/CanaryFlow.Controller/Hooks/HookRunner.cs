using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Hooks;

/// <summary>Runs a rollout's hooks of one moment side by side, and reports each outcome as a fact
/// (<see cref="HookCompleted"/>: the Canary status, its Events and the timeline show it).</summary>
public sealed class HookRunner(HookHttpCaller http, LoadGenerator load, TimeProvider clock)
{
    public async Task<IReadOnlyList<HookResult>> RunAsync(IReadOnlyList<HookSpec> hooks, HookCall call, IPublishEndpoint publish, CancellationToken ct)
    {
        if (hooks.Count == 0) return [];
        var results = await Task.WhenAll(hooks.Select(h => h.Load is not null
            ? Task.FromResult(load.Start(h, call))
            : h.Url is null ? Task.FromResult(new HookResult(h, HookOutcomes.Failed, "hook has neither url nor load")) : http.CallAsync(h, call, ct)));
        var at = clock.GetUtcNow();
        foreach (var r in results)
            await publish.Publish(new HookCompleted(call.CorrelationId, call.RolloutId, call.Target, r.Hook.Name, r.Hook.Type, r.Outcome, r.Detail, at), ct);
        return results;
    }

    /// <summary>A check's verdict with the rollout hooks' outcomes: any failing hook fails the check (a breach the
    /// failure limit counts); their lines join the evidence either way.</summary>
    public static Analysis.AnalysisVerdict WithHooks(Analysis.AnalysisVerdict verdict, IReadOnlyList<HookResult> hooks)
    {
        if (hooks.Count == 0) return verdict;
        var metrics = verdict.Evidence.Metrics.Concat(hooks.Select(h => h.ToMetric())).ToList();
        var failed = hooks.Where(h => !h.Ok).ToList();
        if (failed.Count == 0) return verdict with { Evidence = new AnalysisEvidence(verdict.Evidence.Summary, metrics) };
        var why = string.Join("; ", failed.Select(h => $"hook {h.Hook.Name} {h.Outcome}: {h.Detail}"));
        return new Analysis.AnalysisVerdict(Analysis.VerdictOutcome.Failed, new AnalysisEvidence($"{why}; {verdict.Evidence.Summary}", metrics));
    }
}

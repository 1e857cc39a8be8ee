using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Hooks;

/// <summary>Where in a rollout a hook is called: what goes in its body besides the hook's own metadata.</summary>
/// <param name="Delivery">The same for every attempt of one call (receivers dedupe on it); unique per call otherwise.</param>
public sealed record HookCall(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, string Phase, int Weight, string Delivery)
{
    public static HookCall For(HooksDue due) =>
        new(due.CorrelationId, due.RolloutId, due.Target, due.Revision, due.Type == HookTypes.PreRollout ? RolloutPhases.Progressing : RolloutPhases.WaitingApproval,
            due.CanaryWeight, $"{due.RolloutId:N}.{due.Type}.{due.Sequence}.{due.DueAt.ToUnixTimeSeconds()}");

    public static HookCall For(AnalysisDue due) =>
        new(due.CorrelationId, due.RolloutId, due.Target, due.Revision, RolloutPhases.Progressing, due.CanaryWeight,
            $"{due.RolloutId:N}.{HookTypes.Rollout}.{due.Sequence}");

    public static HookCall For(RolloutTransitioned t) =>
        new(t.CorrelationId, t.RolloutId, t.Target, t.Revision, t.Phase, t.CanaryWeight, $"{t.RolloutId:N}.transition.{t.Version}");
}

/// <summary>One hook's answer.</summary>
public sealed record HookResult(HookSpec Hook, string Outcome, string Detail)
{
    public bool Ok => Outcome == HookOutcomes.Ok;

    /// <summary>As a line of a check's evidence (the timeline and notifications show it next to the metrics).</summary>
    public MetricResult ToMetric() => new($"hook:{Hook.Name}", null, null, null, Ok ? "pass" : "fail", Detail: $"{Hook.Type}: {Outcome}, {Detail}");
}

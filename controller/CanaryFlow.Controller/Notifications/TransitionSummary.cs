using System.Globalization;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Notifications;

public enum Outcome { Info, Success, Warning, Failure }

/// <summary>
/// What every channel says about a transition, worded once: what changed, the weight, the analysis
/// values against their bounds, what to do, and how to promote or abort. Channels only lay it out.
/// </summary>
public sealed record TransitionSummary(
    string Title,
    string Headline,
    Outcome Outcome,
    string Weight,
    string Step,
    IReadOnlyList<string> Metrics,
    string Advice,
    string? StatusUrl,
    bool CanSteer,
    string PromoteCommand,
    string AbortCommand)
{
    public string ColorHex => Outcome switch
    {
        Outcome.Success => "#2EB886",
        Outcome.Failure => "#D00000",
        Outcome.Warning => "#DAA038",
        _ => "#439FE0",
    };

    public int ColorRgb => int.Parse(ColorHex[1..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public static TransitionSummary From(RolloutTransitioned t, string? statusPageUrl)
    {
        var failing = t.LastAnalysis?.Metrics.Any(m => m.Outcome is not "pass") == true;
        var outcome = t.Phase switch
        {
            RolloutPhases.Succeeded => Outcome.Success,
            RolloutPhases.Failed or RolloutPhases.RollingBack => Outcome.Failure,
            RolloutPhases.Paused or RolloutPhases.WaitingApproval => Outcome.Warning,
            _ => failing ? Outcome.Warning : Outcome.Info,
        };
        var steer = t.Phase is not (RolloutPhases.Succeeded or RolloutPhases.Failed or RolloutPhases.RollingBack);
        var revision = t.Revision.Length > 19 ? t.Revision[..19] : t.Revision;
        var weight = t.DesiredWeight != t.CanaryWeight ? $"{t.CanaryWeight}% (moving to {t.DesiredWeight}%)" : $"{t.CanaryWeight}%";
        var step = t.StepCount == 0 ? "-" : $"{Math.Min(t.StepIndex + 1, t.StepCount)} of {t.StepCount}";
        var headline = $"Revision {revision}: {t.FromPhase} → {t.Phase}, canary weight {weight}. {t.Reason}".TrimEnd();
        var metrics = t.LastAnalysis?.Metrics.Select(Describe).ToList() ?? [];
        var status = string.IsNullOrEmpty(statusPageUrl) ? null : $"{statusPageUrl.TrimEnd('/')}/rollouts/{t.Target.Namespace}/{t.Target.Name}";
        return new TransitionSummary($"{t.Target}: {t.Phase}", headline, outcome, weight, step, metrics, Advise(t.Phase, failing), status, steer,
            $"canaryflow promote {t.Target}", $"canaryflow abort {t.Target} --reason \"...\"");
    }

    // "request-success-rate 97.2 (min 99) fail": the value and the bound it was judged against.
    private static string Describe(MetricResult m)
    {
        var bounds = string.Join(", ", new[] { m.Min is { } min ? $"min {Num(min)}" : null, m.Max is { } max ? $"max {Num(max)}" : null, m.Baseline is { } b ? $"stable {Num(b)}" : null }.OfType<string>());
        var value = m.Value is { } v ? Num(v) : "no data";
        return $"{m.Name} {value}" + (bounds.Length > 0 ? $" ({bounds})" : "") + $" {m.Outcome}";
    }

    private static string Num(double d) => d.ToString("0.####", CultureInfo.InvariantCulture);

    private static string Advise(string phase, bool failing) => phase switch
    {
        RolloutPhases.Queued => "Queued: the controller runs its maximum of rollouts at once; this one starts when a slot is free. Abort to drop it.",
        RolloutPhases.WaitingApproval => "Waiting for approval: promote to continue, or abort.",
        RolloutPhases.Paused => "Paused: resume to continue, promote to finish now, or abort.",
        RolloutPhases.Promoting => "Promoting the canary to stable; nothing to do.",
        RolloutPhases.Succeeded => "Done: the new revision is stable. Nothing to do.",
        RolloutPhases.RollingBack => "Rolling back: all traffic returns to stable.",
        RolloutPhases.Failed => "Rolled back. Check the analysis values above, fix, and push a new revision (or retry).",
        _ when failing => "A check failed: the rollout rolls back if failures reach the limit. Abort now if users are hurt.",
        _ => "No action needed: traffic moves step by step while analysis passes. Abort if something looks wrong.",
    };
}

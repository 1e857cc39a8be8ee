using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Observability;

/// <summary>One moment of a rollout: the weight, and the measured values when a check reported them.</summary>
/// <param name="SuccessRate">Canary success rate in percent ("request-success-rate" is reported in percent, as in Flagger).</param>
/// <param name="StableSuccessRate">Stable's, where the check compared them (the metric's Baseline).</param>
/// <param name="P99Ms">Canary P99 latency ("request-duration" Value, ms).</param>
/// <param name="Verdict">"pass", "fail" or "inconclusive" when this point carries a new analysis result.</param>
public sealed record TimelinePoint(
    DateTimeOffset At,
    string Phase,
    int Weight,
    double? SuccessRate,
    double? StableSuccessRate,
    double? P99Ms,
    double? StableP99Ms,
    string? Verdict,
    string Reason);

/// <summary>One hook call of a rollout: when, which, and its outcome ("ok", "failed", "unreachable").</summary>
public sealed record TimelineHook(DateTimeOffset At, string Name, string Type, string Outcome, string Detail);

/// <summary>The timeline of one rollout (its latest revision), as the status page and the reports draw it.</summary>
public sealed record RolloutTimeline(RolloutTarget Target, Guid RolloutId, string Revision, string Phase, IReadOnlyList<TimelinePoint> Points,
    IReadOnlyList<TimelineHook>? Hooks = null)
{
    public const string SuccessRateMetric = "request-success-rate";
    public const string DurationMetric = "request-duration";

    public bool Finished => Phase is RolloutPhases.Succeeded or RolloutPhases.Failed;

    /// <summary>Builds the timeline of the latest rollout in <paramref name="history"/> (older rollouts of the target are left out).</summary>
    /// <param name="hooks">Hook outcomes of the target; those of this rollout join the timeline.</param>
    public static RolloutTimeline? From(IReadOnlyList<RolloutTransitioned> history, IReadOnlyList<HookCompleted>? hooks = null)
    {
        if (history.Count == 0) return null;
        var last = history[^1];
        var points = new List<TimelinePoint>();
        string? previousEvidence = null;
        foreach (var t in history.Where(h => h.RolloutId == last.RolloutId).OrderBy(h => h.Version))
        {
            var evidenceKey = Key(t.LastAnalysis);
            var isNewCheck = evidenceKey != null && evidenceKey != previousEvidence;
            previousEvidence = evidenceKey ?? previousEvidence;
            var success = Metric(t.LastAnalysis, SuccessRateMetric);
            var duration = Metric(t.LastAnalysis, DurationMetric);
            points.Add(new TimelinePoint(t.At, t.Phase, t.CanaryWeight,
                success?.Value, success?.Baseline, duration?.Value, duration?.Baseline,
                isNewCheck ? Verdict(t.LastAnalysis!) : null, t.Reason));
        }
        var calls = (hooks ?? []).Where(h => h.RolloutId == last.RolloutId).OrderBy(h => h.At)
            .Select(h => new TimelineHook(h.At, h.Name, h.Type, h.Outcome, h.Detail)).ToList();
        return new RolloutTimeline(last.Target, last.RolloutId, last.Revision, last.Phase, points, calls);
    }

    /// <summary>"fail" when any metric failed or compared worse; "inconclusive" for no data or errors; else "pass".</summary>
    public static string Verdict(AnalysisEvidence evidence)
    {
        var outcomes = evidence.Metrics.Select(m => m.Outcome.ToLowerInvariant()).ToList();
        if (outcomes.Any(o => o is "fail" or "failed" or "high" or "low")) return "fail";
        if (outcomes.Count == 0 || outcomes.Any(o => o is "nodata" or "error" or "queryerror")) return "inconclusive";
        return "pass";
    }

    private static MetricResult? Metric(AnalysisEvidence? e, string name) => e?.Metrics.FirstOrDefault(m => m.Name == name);

    // Snapshots repeat the last evidence; a new check is recognised by different contents.
    private static string? Key(AnalysisEvidence? e) =>
        e is null ? null : e.Summary + "|" + string.Join(";", e.Metrics.Select(m => $"{m.Name}={m.Value}/{m.Baseline}/{m.Outcome}"));
}

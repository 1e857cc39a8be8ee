using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Observability;

/// <summary>One moment of a rollout: the weight, and the measured values when a check reported them.</summary>
/// <param name="SuccessRate">Canary success rate in percent ("request-success-rate" is reported in percent, as in Flagger).</param>
/// <param name="StableSuccessRate">Stable's, where the check compared them (the metric's Baseline).</param>
/// <param name="P99Ms">Canary P99 latency ("request-duration" Value, ms).</param>
/// <param name="Verdict">"pass", "fail" or "inconclusive" when this point carries a new analysis result.</param>
/// <param name="SuccessRateMin">The success-rate threshold the check applied (its Min), drawn as a line.</param>
/// <param name="P99MaxMs">The P99 threshold the check applied (its Max), drawn as a line.</param>
/// <param name="SuccessRateVerdict">This metric's own verdict, on a point that carries a new check.</param>
/// <param name="P99Verdict">This metric's own verdict, on a point that carries a new check.</param>
public sealed record TimelinePoint(
    DateTimeOffset At,
    string Phase,
    int Weight,
    double? SuccessRate,
    double? StableSuccessRate,
    double? P99Ms,
    double? StableP99Ms,
    string? Verdict,
    string Reason,
    double? SuccessRateMin = null,
    double? P99MaxMs = null,
    string? SuccessRateVerdict = null,
    string? P99Verdict = null);

/// <summary>One hook call of a rollout: when, which, and its outcome ("ok", "failed", "unreachable").</summary>
public sealed record TimelineHook(DateTimeOffset At, string Name, string Type, string Outcome, string Detail);

/// <summary>The timeline of one rollout (its latest revision), as the status page and the reports draw it.</summary>
public sealed record RolloutTimeline(RolloutTarget Target, Guid RolloutId, string Revision, string Phase, IReadOnlyList<TimelinePoint> Points,
    IReadOnlyList<TimelineHook>? Hooks = null)
{
    public const string SuccessRateMetric = "request-success-rate";
    public const string DurationMetric = "request-duration";
    private const string Comparison = ":comparison";

    public bool Finished => Phase is RolloutPhases.Succeeded or RolloutPhases.Failed;

    /// <summary>Builds the timeline of the latest rollout in <paramref name="history"/> (older rollouts of the target are left out).</summary>
    /// <param name="hooks">Hook outcomes of the target; those of this rollout join the timeline.</param>
    public static RolloutTimeline? From(IReadOnlyList<RolloutTransitioned> history, IReadOnlyList<HookCompleted>? hooks = null)
    {
        if (history.Count == 0) return null;
        // The latest of the rollout last heard of, by version: transitions may be consumed out of order (a concurrent
        // consumer), so the one that arrived last is not always the newest (a Failed seen before its RollingBack).
        var last = history.Where(h => h.RolloutId == history[^1].RolloutId).MaxBy(h => h.Version)!;
        var points = new List<TimelinePoint>();
        string? previousEvidence = null;
        foreach (var t in history.Where(h => h.RolloutId == last.RolloutId).OrderBy(h => h.Version))
        {
            var evidenceKey = Key(t.LastAnalysis);
            var isNewCheck = evidenceKey != null && evidenceKey != previousEvidence;
            previousEvidence = evidenceKey ?? previousEvidence;
            // A check by thresholds reports the metric by its name; a statistical comparison as "<name>:comparison".
            var success = Metric(t.LastAnalysis, SuccessRateMetric) ?? Metric(t.LastAnalysis, SuccessRateMetric + Comparison);
            var duration = Metric(t.LastAnalysis, DurationMetric) ?? Metric(t.LastAnalysis, DurationMetric + Comparison);
            points.Add(new TimelinePoint(t.At, t.Phase, t.CanaryWeight,
                success?.Value, Stable(t.LastAnalysis, success), duration?.Value, Stable(t.LastAnalysis, duration),
                isNewCheck ? Verdict(t.LastAnalysis!) : null, t.Reason,
                success?.Min, duration?.Max,
                isNewCheck && success is not null ? Outcome(success.Outcome) : null,
                isNewCheck && duration is not null ? Outcome(duration.Outcome) : null));
        }
        var calls = (hooks ?? []).Where(h => h.RolloutId == last.RolloutId).OrderBy(h => h.At)
            .Select(h => new TimelineHook(h.At, h.Name, h.Type, h.Outcome, h.Detail)).ToList();
        return new RolloutTimeline(last.Target, last.RolloutId, last.Revision, last.Phase, points, calls);
    }

    /// <summary>"fail" when any metric failed or compared worse; "inconclusive" for no data or errors; else "pass".</summary>
    public static string Verdict(AnalysisEvidence evidence)
    {
        var outcomes = evidence.Metrics.Select(m => Outcome(m.Outcome)).ToList();
        if (outcomes.Contains("fail")) return "fail";
        if (outcomes.Count == 0 || outcomes.Contains("inconclusive")) return "inconclusive";
        return "pass";
    }

    /// <summary>One metric's outcome as a verdict: "fail" (failed, or compared worse), "inconclusive" (no data, errors), else "pass".</summary>
    public static string Outcome(string outcome) => outcome.ToLowerInvariant() switch
    {
        "fail" or "failed" or "high" or "low" => "fail",
        "nodata" or "error" or "queryerror" => "inconclusive",
        _ => "pass",
    };

    private static MetricResult? Metric(AnalysisEvidence? e, string name) => e?.Metrics.FirstOrDefault(m => m.Name == name);

    // Stable's value: the check's own (Baseline) or, with a statistical comparison, the comparison's.
    private static double? Stable(AnalysisEvidence? e, MetricResult? metric) =>
        metric?.Baseline ?? (metric is null || metric.Name.EndsWith(Comparison, StringComparison.Ordinal) ? null : Metric(e, metric.Name + Comparison)?.Baseline);

    // Snapshots repeat the last evidence; a new check is recognised by different contents.
    private static string? Key(AnalysisEvidence? e) =>
        e is null ? null : e.Summary + "|" + string.Join(";", e.Metrics.Select(m => $"{m.Name}={m.Value}/{m.Baseline}/{m.Outcome}"));
}

using CanaryFlow.Analysis.Statistics;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis.Verdicts;

/// <summary>
/// How metric judgements make a verdict: a breach wins (a broken canary must not hide behind an
/// error elsewhere); then a query error (its own outcome with its own limit); then no data; only
/// a check where every metric passed, and the comparison if any passed, is Passed.
/// </summary>
public static class VerdictRules
{
    public static AnalysisVerdict Combine(string context, IReadOnlyList<MetricCheck> checks, ComparisonScore? comparison, IReadOnlyList<MetricResult> comparisonResults)
    {
        var statuses = checks.Select(c => c.Status).ToList();
        var outcome =
            statuses.Contains(CheckStatus.Fail) || comparison?.Outcome == ScoreOutcome.Fail ? VerdictOutcome.Failed
            : statuses.Contains(CheckStatus.Error) ? VerdictOutcome.QueryError
            : statuses.Contains(CheckStatus.NoData) || checks.Count == 0
              || comparison?.Outcome is ScoreOutcome.NoData or ScoreOutcome.Marginal ? VerdictOutcome.NoData
            : VerdictOutcome.Passed;

        var parts = new List<string> { context };
        parts.AddRange(checks.Select(c => $"{c.Result.Name} {c.Result.Outcome} ({c.Result.Detail})"));
        if (comparison is not null)
            parts.Add($"comparison score {MetricCheck.Format(comparison.Score)} ({comparison.Outcome.ToString().ToLowerInvariant()})");
        var results = checks.Select(c => c.Result).Concat(comparisonResults).ToList();
        return new AnalysisVerdict(outcome, new AnalysisEvidence($"{outcome}: " + string.Join("; ", parts), results));
    }
}

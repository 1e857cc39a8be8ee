using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis.Statistics;

public enum Classification { Pass, High, Low, NoData }

/// <summary>Which way a change hurts: a success rate must not drop, a latency must not rise.</summary>
public enum HarmfulDirection { Increase, Decrease, Either }

/// <param name="RelativeChange">(mean canary - mean stable) / |mean stable|; null when not defined.</param>
public sealed record MetricComparison(
    string Metric,
    Classification Classification,
    bool Passes,
    double? PValue,
    double? CanaryMean,
    double? StableMean,
    double? RelativeChange,
    int CanaryCount,
    int StableCount);

public enum ScoreOutcome { Pass, Marginal, Fail, NoData }

public sealed record ComparisonScore(double Score, ScoreOutcome Outcome, IReadOnlyList<MetricComparison> Metrics);

/// <summary>
/// Kayenta-style judgement: each metric's canary samples against the stable (or baseline) samples
/// with a Mann-Whitney test. A metric is High or Low only when the difference is both significant
/// at the configured confidence and larger than the allowed relative change; it counts as passing
/// unless it moved in its harmful direction. The score is the share of passing metrics.
/// </summary>
public static class KayentaJudge
{
    public static MetricComparison Classify(
        string metric, IReadOnlyList<double> canary, IReadOnlyList<double> stable,
        double confidence, double allowedRelativeChange, HarmfulDirection harmful)
    {
        var c = canary.Where(double.IsFinite).ToArray();
        var s = stable.Where(double.IsFinite).ToArray();
        if (c.Length == 0 || s.Length == 0)
            return new MetricComparison(metric, Classification.NoData, false, null, Mean(c), Mean(s), null, c.Length, s.Length);

        var test = MannWhitney.Test(c, s);
        double cm = c.Average(), sm = s.Average();
        var relative = RelativeChange(cm, sm);
        var classification = Classification.Pass;
        if (test.PValue < 1 - confidence && relative is { } r && Math.Abs(r) > allowedRelativeChange)
            classification = r > 0 ? Classification.High : Classification.Low;

        var passes = classification switch
        {
            Classification.Pass => true,
            Classification.High => harmful == HarmfulDirection.Decrease,
            Classification.Low => harmful == HarmfulDirection.Increase,
            _ => false,
        };
        return new MetricComparison(metric, classification, passes, test.PValue, cm, sm, relative, c.Length, s.Length);
    }

    /// <summary>Score = share of metrics passing; NoData when any metric had no samples on either side.</summary>
    public static ComparisonScore Score(IReadOnlyList<MetricComparison> metrics, ComparisonSpec spec)
    {
        if (metrics.Count == 0 || metrics.Any(m => m.Classification == Classification.NoData))
            return new ComparisonScore(0, ScoreOutcome.NoData, metrics);
        var score = metrics.Count(m => m.Passes) / (double)metrics.Count;
        var outcome = score >= spec.PassScore ? ScoreOutcome.Pass
            : score >= spec.MarginalScore ? ScoreOutcome.Marginal
            : ScoreOutcome.Fail;
        return new ComparisonScore(score, outcome, metrics);
    }

    private static double? Mean(double[] values) => values.Length == 0 ? null : values.Average();

    private static double? RelativeChange(double canary, double stable)
    {
        if (stable != 0) return (canary - stable) / Math.Abs(stable);
        if (canary == 0) return 0;
        return canary > 0 ? double.PositiveInfinity : double.NegativeInfinity;
    }
}

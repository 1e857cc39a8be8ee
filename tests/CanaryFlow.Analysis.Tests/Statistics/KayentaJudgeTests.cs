using CanaryFlow.Analysis.Statistics;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis.Tests.Statistics;

public class KayentaJudgeTests
{
    private static readonly double[] Stable = Enumerable.Range(0, 30).Select(i => 100.0 + i % 5).ToArray();

    [Fact]
    public void Same_distribution_is_classified_Pass()
    {
        var c = KayentaJudge.Classify("latency", Stable.Reverse().ToArray(), Stable, 0.95, 0.1, HarmfulDirection.Increase);
        Assert.Equal(Classification.Pass, c.Classification);
        Assert.True(c.Passes);
    }

    [Fact]
    public void A_significant_rise_beyond_the_allowed_change_is_High_and_fails_when_rising_hurts()
    {
        var canary = Stable.Select(v => v * 1.5).ToArray();
        var c = KayentaJudge.Classify("latency", canary, Stable, 0.95, 0.1, HarmfulDirection.Increase);
        Assert.Equal(Classification.High, c.Classification);
        Assert.False(c.Passes);
        Assert.True(c.PValue < 0.05);
    }

    [Fact]
    public void A_significant_rise_passes_when_only_a_drop_hurts()
    {
        var canary = Stable.Select(v => v * 1.5).ToArray();
        var c = KayentaJudge.Classify("success", canary, Stable, 0.95, 0.1, HarmfulDirection.Decrease);
        Assert.Equal(Classification.High, c.Classification);
        Assert.True(c.Passes);
    }

    [Fact]
    public void A_significant_change_within_the_allowed_relative_change_is_Pass()
    {
        var canary = Stable.Select(v => v * 1.05).ToArray();
        var c = KayentaJudge.Classify("latency", canary, Stable, 0.95, 0.1, HarmfulDirection.Either);
        Assert.True(c.PValue < 0.05);
        Assert.Equal(Classification.Pass, c.Classification);
    }

    [Fact]
    public void A_drop_is_Low()
    {
        var canary = Stable.Select(v => v * 0.5).ToArray();
        var c = KayentaJudge.Classify("success", canary, Stable, 0.95, 0.1, HarmfulDirection.Decrease);
        Assert.Equal(Classification.Low, c.Classification);
        Assert.False(c.Passes);
    }

    [Fact]
    public void No_samples_on_a_side_is_NoData_and_the_score_is_NoData()
    {
        var c = KayentaJudge.Classify("x", [], Stable, 0.95, 0.1, HarmfulDirection.Either);
        Assert.Equal(Classification.NoData, c.Classification);
        Assert.Equal(ScoreOutcome.NoData, KayentaJudge.Score([c], new ComparisonSpec()).Outcome);
    }

    [Theory]
    [InlineData(4, 4, ScoreOutcome.Pass)]
    [InlineData(3, 4, ScoreOutcome.Marginal)]
    [InlineData(1, 4, ScoreOutcome.Fail)]
    public void Score_is_the_share_passing_against_pass_and_marginal_thresholds(int passing, int total, ScoreOutcome expected)
    {
        var metrics = Enumerable.Range(0, total)
            .Select(i => new MetricComparison($"m{i}", i < passing ? Classification.Pass : Classification.High, i < passing, 0.01, 1, 1, 0, 10, 10))
            .ToList();
        var score = KayentaJudge.Score(metrics, new ComparisonSpec(PassScore: 0.95, MarginalScore: 0.75));
        Assert.Equal(passing / (double)total, score.Score, 12);
        Assert.Equal(expected, score.Outcome);
    }
}

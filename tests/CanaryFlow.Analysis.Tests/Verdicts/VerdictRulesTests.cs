using CanaryFlow.Analysis.Statistics;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis.Tests.Verdicts;

public class VerdictRulesTests
{
    private static readonly MetricSpec Rate = new("request-success-rate", Min: 99);
    private static MetricCheck Pass => MetricCheck.Judge(Rate, 100, "");
    private static MetricCheck Fail => MetricCheck.Judge(Rate, 80, "");
    private static MetricCheck NoData => MetricCheck.Judge(Rate, double.NaN, "");
    private static MetricCheck Error => MetricCheck.Error("x", null, null, new HttpRequestException("connection refused"));

    private static VerdictOutcome Outcome(params MetricCheck[] checks) => VerdictRules.Combine("ctx", checks, null, []).Outcome;

    [Fact]
    public void Every_metric_passing_passes() => Assert.Equal(VerdictOutcome.Passed, Outcome(Pass, Pass));

    [Fact]
    public void A_breach_fails_even_beside_errors_and_gaps() => Assert.Equal(VerdictOutcome.Failed, Outcome(Pass, Error, NoData, Fail));

    [Fact]
    public void A_query_error_is_its_own_outcome_ahead_of_no_data() => Assert.Equal(VerdictOutcome.QueryError, Outcome(Pass, NoData, Error));

    [Fact]
    public void No_data_never_passes() => Assert.Equal(VerdictOutcome.NoData, Outcome(Pass, NoData));

    [Fact]
    public void No_metrics_at_all_is_no_data() => Assert.Equal(VerdictOutcome.NoData, Outcome());

    [Theory]
    [InlineData(ScoreOutcome.Pass, VerdictOutcome.Passed)]
    [InlineData(ScoreOutcome.Marginal, VerdictOutcome.NoData)]
    [InlineData(ScoreOutcome.NoData, VerdictOutcome.NoData)]
    [InlineData(ScoreOutcome.Fail, VerdictOutcome.Failed)]
    public void The_comparison_score_gates_a_passing_check(ScoreOutcome score, VerdictOutcome expected)
    {
        var verdict = VerdictRules.Combine("ctx", [Pass], new ComparisonScore(0.5, score, []), []);
        Assert.Equal(expected, verdict.Outcome);
    }

    [Theory]
    [InlineData(98.9, null, "fail")]
    [InlineData(99.0, null, "pass")]
    [InlineData(501.0, 500.0, "fail")]
    [InlineData(double.PositiveInfinity, 500.0, "fail")]
    public void Bounds_are_inclusive_and_infinity_breaches_a_maximum(double value, double? max, string outcome)
    {
        var spec = max is null ? Rate : new MetricSpec("request-duration", Max: max);
        Assert.Equal(outcome, MetricCheck.Judge(spec, value, "").Result.Outcome);
    }

    [Fact]
    public void Evidence_names_values_and_bounds_in_the_summary()
    {
        var verdict = VerdictRules.Combine("canary shop/podinfo", [Fail], null, []);
        Assert.StartsWith("Failed: canary shop/podinfo", verdict.Evidence.Summary);
        Assert.Contains("80 < min 99", verdict.Evidence.Summary);
        var metric = Assert.Single(verdict.Evidence.Metrics);
        Assert.Equal((80.0, 99.0), (metric.Value!.Value, metric.Min!.Value));
    }

    [Fact]
    public void Templates_render_every_variable()
    {
        var q = MetricTemplate.Render("{{namespace}}|{{target}}|{{canary}}|{{stable}}|{{interval}}", "shop", "podinfo", "podinfo", "podinfo-primary", TimeSpan.FromSeconds(90));
        Assert.Equal("shop|podinfo|podinfo|podinfo-primary|90s", q);
        Assert.Equal("5m", PromQl.Duration(TimeSpan.FromMinutes(5)));
        Assert.Equal("\"a\\\"b\"", PromQl.Quote("a\"b"));
    }

    [Theory]
    [InlineData(VerdictOutcome.Passed, typeof(AnalysisPassed))]
    [InlineData(VerdictOutcome.Failed, typeof(AnalysisFailed))]
    [InlineData(VerdictOutcome.NoData, typeof(AnalysisInconclusive))]
    [InlineData(VerdictOutcome.QueryError, typeof(AnalysisInconclusive))]
    public void A_verdict_becomes_the_matching_event_with_its_evidence(VerdictOutcome outcome, Type expected)
    {
        var target = new RolloutTarget("shop", "podinfo");
        var due = new AnalysisDue(Guid.NewGuid(), Guid.NewGuid(), target, "rev", 10, 7, DateTimeOffset.UnixEpoch, TimeSpan.FromMinutes(1), new AnalysisSpec(10, []));
        var request = AnalysisMessages.RequestFor(due);
        Assert.Equal(("podinfo", "podinfo-primary"), (request.CanaryWorkload, request.StableWorkload));

        var evidence = new AnalysisEvidence("why", []);
        var message = AnalysisMessages.ToEvent(due, new AnalysisVerdict(outcome, evidence), DateTimeOffset.UnixEpoch);
        Assert.IsType(expected, message);
        if (message is AnalysisInconclusive inconclusive)
            Assert.Equal(outcome == VerdictOutcome.QueryError ? InconclusiveKind.QueryError : InconclusiveKind.NoData, inconclusive.Kind);
    }
}

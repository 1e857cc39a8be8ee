using System.Text.Json;
using CanaryFlow.Analysis.Sequential;

namespace CanaryFlow.Analysis.Tests.Sequential;

public class RateRatioTestTests
{
    [Fact]
    public void Before_any_evidence_the_e_value_is_one()
    {
        var t = RateRatioTest.Start(0.1);
        Assert.Equal(1, t.EValue, 12);
        Assert.False(t.Rejects(0.5));
    }

    [Fact]
    public void Ten_canary_errors_of_ten_at_an_even_split_give_the_known_mixture_value()
    {
        // Independently computed: mean over the grid m of (2m/(m+1))^10 (p0 = 1/2, p1 = m/(m+1)).
        var t = RateRatioTest.Start(0).Observe(100, 10, 100, 0);
        Assert.Equal(332.4809597413769, t.EValue, 9);
        Assert.True(t.Rejects(0.01));
    }

    [Fact]
    public void Ten_stable_errors_of_ten_lower_the_e_value_to_the_known_value()
    {
        // mean over m of (2/(m+1))^10.
        var t = RateRatioTest.Start(0).Observe(100, 0, 100, 10);
        Assert.Equal(0.10475686505827211, t.EValue, 12);
    }

    [Fact]
    public void A_canary_failing_every_request_at_ten_percent_rejects_after_its_first_increment()
    {
        // 200 canary requests all 5xx, stable 1,800 with 2 (0.1%); log e computed independently.
        var t = RateRatioTest.Start(0.1).Observe(200, 200, 1800, 2);
        Assert.Equal(430.11546628997854, t.LogEValue, 8);
        Assert.True(t.Rejects(1e-100));
    }

    [Fact]
    public void A_few_canary_only_errors_at_ten_percent_are_enough_to_reject_at_alpha_0_025()
    {
        var t = RateRatioTest.Start(0.1).Observe(100, 4, 900, 0);
        Assert.True(t.Rejects(0.025), $"e = {t.EValue}");
    }

    /// <summary>The mixtures the tests use: equal weights (evidence saved before weights existed), the error-rate test's,
    /// and the latency bounds' (p50, p90, p99, far tail).</summary>
    public static readonly IReadOnlyList<IReadOnlyList<double>?> Mixtures =
        [null, MixtureWeights.ErrorRate, .. MixtureWeights.LatencyQuantiles.Select(q => q.Alternatives), MixtureWeights.LatencyFarTail.Alternatives];

    [Theory]
    [InlineData(10, 90, 0.1)]
    [InlineData(1, 99, 0.1)]
    [InlineData(50, 50, 0)]
    [InlineData(30, 70, 0.5)]
    public void Each_canary_only_event_multiplies_the_e_value_by_less_than_one_over_p0(double nc, double ns, double tolerance)
    {
        // The bound behind the least evidence any rejection needs (docs/sequential-analysis.md): log(1/α) / log(1/p0) events,
        // whatever the mixture's weights.
        var p0 = nc * (1 + tolerance) / (nc * (1 + tolerance) + ns);
        var needed = (int)Math.Ceiling(Math.Log(40) / -Math.Log(p0)); // α = 0.025
        foreach (var weights in Mixtures)
        {
            var t = RateRatioTest.Start(tolerance, weights);
            for (var k = 1; k <= 8; k++)
            {
                var next = t.Observe(nc, 1, ns, 0);
                Assert.InRange(next.LogEValue - t.LogEValue, 0, -Math.Log(p0) + 1e-12);
                t = next;
            }
            Assert.False(Enumerable.Range(0, needed - 1).Aggregate(RateRatioTest.Start(tolerance, weights), (x, _) => x.Observe(nc, 1, ns, 0)).Rejects(0.025));
        }
    }

    [Theory]
    [InlineData(1, 7.368540807147894)]
    [InlineData(2, 59.191350892901475)]
    [InlineData(3, 492.81454060281436)]
    public void Canary_only_5xx_at_a_ten_percent_split_give_the_known_values_of_the_error_rate_mixture(int k, double expected)
    {
        // Computed independently: Σ_m w_m (p1/p0)^k with p = Nc·θ/(Nc·θ + Ns), θ0 = 1.1, Nc = 100, Ns = 900.
        var t = RateRatioTest.Start(0.1, MixtureWeights.ErrorRate).Observe(100, k, 900, 0);
        Assert.Equal(expected, t.EValue, 9);
    }

    [Fact]
    public void Two_canary_only_5xx_at_a_ten_percent_split_reject_at_alpha_0_025_with_the_error_rate_weights_and_not_with_equal_weights()
    {
        // The least any valid test needs at this split (1/p0 = 9.18 per event, 40 to reach): 2 events, if its weight sits
        // on the large ratios; equal weights need 3 (e = 25.9 for two).
        Assert.True(RateRatioTest.Start(0.1, MixtureWeights.ErrorRate).Observe(100, 2, 900, 0).Rejects(0.025));
        var equal = RateRatioTest.Start(0.1).Observe(100, 2, 900, 0);
        Assert.Equal(25.866660546030317, equal.EValue, 9);
        Assert.False(equal.Rejects(0.025));
    }

    [Fact]
    public void One_stable_5xx_between_them_takes_two_canary_5xx_below_any_rejection()
    {
        // Its factor (Nc·θ0 + Ns)/(Nc·θ1 + Ns) is ≈ 0.009 at θ1/θ0 = 1000: the large ratios that let two reject are the
        // ones a stable 5xx refutes, and no weights reach 40 with (2, 1) at 10% (at most ≈ 12.9, at θ1/θ0 = 10).
        var t = RateRatioTest.Start(0.1, MixtureWeights.ErrorRate).Observe(100, 2, 900, 1);
        Assert.Equal(6.192961039467689, t.EValue, 9);
    }

    [Fact]
    public void Evidence_saved_before_weights_existed_keeps_its_plain_average()
    {
        var plain = RateRatioTest.Start(0.1).Observe(100, 2, 900, 0);
        var json = JsonSerializer.Serialize(plain).Replace(",\"Weights\":null", "");
        Assert.DoesNotContain("Weights", json);
        Assert.Equal(25.866660546030317, JsonSerializer.Deserialize<RateRatioTest>(json)!.EValue, 9);
        var weighted = RateRatioTest.Start(0.1, MixtureWeights.ErrorRate).Observe(100, 2, 900, 0);
        Assert.Equal(weighted.EValue, JsonSerializer.Deserialize<RateRatioTest>(JsonSerializer.Serialize(weighted))!.EValue, 12);
    }

    [Fact]
    public void Stored_weights_that_do_not_fit_the_alternatives_count_as_equal_weights_instead_of_failing_every_check()
    {
        var damaged = RateRatioTest.Start(0.1).Observe(100, 2, 900, 0) with { Weights = [0.5, 0.5] };
        Assert.Equal(25.866660546030317, damaged.EValue, 9);
    }

    [Theory]
    [InlineData(new[] { 0.5, 0.5 })]
    [InlineData(new[] { 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0, -0.2 })]
    [InlineData(new[] { 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0, 0 })]
    public void Weights_must_be_one_non_negative_weight_per_alternative_summing_to_one(double[] weights) =>
        Assert.Throws<ArgumentException>(() => RateRatioTest.Start(0.1, weights));

    [Theory]
    [InlineData(10, 90, 5, 0.1)]
    [InlineData(50, 50, 20, 0)]
    [InlineData(20, 980, 15, 0.25)]
    [InlineData(300, 700, 3, 0.1)]
    public void One_increment_has_expectation_one_at_the_null_boundary_and_below_one_inside_the_null(
        double nc, double ns, int n, double tolerance)
    {
        // The supermartingale property, exactly: sum over x of Binomial(n, p)(x) * e(x) (n <= nc: errors never exceed requests).
        // For every mixture the tests use: fixed weights never change the level.
        var theta0 = 1 + tolerance;
        var p0 = nc * theta0 / (nc * theta0 + ns);
        foreach (var weights in Mixtures)
        {
            Assert.Equal(1, Expectation(p0, weights), 9);
            foreach (var inside in new[] { 0.0, 0.5, 1.0 })
            {
                var p = nc * theta0 * inside / (nc * theta0 * inside + ns);
                Assert.True(Expectation(p, weights) <= 1 + 1e-12, $"E = {Expectation(p, weights)} at p = {p}");
            }
        }

        double Expectation(double p, IReadOnlyList<double>? weights) => Enumerable.Range(0, n + 1).Sum(x =>
            Binomial(n, x, p) * RateRatioTest.Start(tolerance, weights).Observe(nc, x, ns, n - x).EValue);
    }

    [Fact]
    public void More_canary_errors_never_lower_the_e_value()
    {
        var previous = 0.0;
        for (var x = 0; x <= 20; x++)
        {
            var e = RateRatioTest.Start(0.1).Observe(100, x, 900, 20 - x).EValue;
            Assert.True(e >= previous);
            previous = e;
        }
    }

    [Fact]
    public void An_increment_with_no_traffic_on_one_arm_adds_counts_but_no_evidence()
    {
        var t = RateRatioTest.Start(0.1).Observe(0, 0, 100, 3).Observe(50, 5, 0, 0);
        Assert.Equal(1, t.EValue, 12);
        Assert.Equal(5, t.CanaryEvents);
        Assert.Equal(3, t.StableEvents);
    }

    [Fact]
    public void Impossible_counts_are_clamped_errors_to_requests_and_negatives_to_zero()
    {
        var t = RateRatioTest.Start(0).Observe(10, 50, -5, 3);
        Assert.Equal(10, t.CanaryEvents);
        Assert.Equal(0, t.StableExposure);
        Assert.Equal(0, t.StableEvents);
    }

    [Fact]
    public void A_negative_tolerance_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RateRatioTest.Start(-0.1));
    }

    private static double Binomial(int n, int k, double p)
    {
        var log = LogFactorial(n) - LogFactorial(k) - LogFactorial(n - k);
        if (k > 0) log += k * Math.Log(p);
        if (n - k > 0) log += (n - k) * Math.Log(1 - p);
        return p == 0 ? (k == 0 ? 1 : 0) : Math.Exp(log);
    }

    private static double LogFactorial(int n) => Enumerable.Range(1, n).Sum(i => Math.Log(i));
}

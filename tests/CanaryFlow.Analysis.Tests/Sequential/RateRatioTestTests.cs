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

    [Theory]
    [InlineData(10, 90, 0.1)]
    [InlineData(1, 99, 0.1)]
    [InlineData(50, 50, 0)]
    [InlineData(30, 70, 0.5)]
    public void Each_canary_only_event_multiplies_the_e_value_by_less_than_one_over_p0(double nc, double ns, double tolerance)
    {
        // The bound behind the least evidence any rejection needs (docs/sequential-analysis.md): log(1/α) / log(1/p0) events.
        var p0 = nc * (1 + tolerance) / (nc * (1 + tolerance) + ns);
        var t = RateRatioTest.Start(tolerance);
        for (var k = 1; k <= 8; k++)
        {
            var next = t.Observe(nc, 1, ns, 0);
            Assert.InRange(next.LogEValue - t.LogEValue, 0, -Math.Log(p0));
            t = next;
        }
        var needed = (int)Math.Ceiling(Math.Log(40) / -Math.Log(p0)); // α = 0.025
        Assert.False(Enumerable.Range(0, needed - 1).Aggregate(RateRatioTest.Start(tolerance), (x, _) => x.Observe(nc, 1, ns, 0)).Rejects(0.025));
    }

    [Theory]
    [InlineData(10, 90, 5, 0.1)]
    [InlineData(50, 50, 20, 0)]
    [InlineData(20, 980, 15, 0.25)]
    [InlineData(300, 700, 3, 0.1)]
    public void One_increment_has_expectation_one_at_the_null_boundary_and_below_one_inside_the_null(
        double nc, double ns, int n, double tolerance)
    {
        // The supermartingale property, exactly: sum over x of Binomial(n, p)(x) * e(x) (n <= nc: errors never exceed requests).
        var theta0 = 1 + tolerance;
        var p0 = nc * theta0 / (nc * theta0 + ns);
        Assert.Equal(1, Expectation(p0), 9);
        foreach (var inside in new[] { 0.0, 0.5, 1.0 })
        {
            var p = nc * theta0 * inside / (nc * theta0 * inside + ns);
            Assert.True(Expectation(p) <= 1 + 1e-12, $"E = {Expectation(p)} at p = {p}");
        }

        double Expectation(double p) => Enumerable.Range(0, n + 1).Sum(x =>
            Binomial(n, x, p) * RateRatioTest.Start(tolerance).Observe(nc, x, ns, n - x).EValue);
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

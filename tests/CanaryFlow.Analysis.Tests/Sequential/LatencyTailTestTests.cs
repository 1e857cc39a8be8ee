using System.Text.Json;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Analysis.Tests.Sequential;

public class LatencyTailTestTests
{
    private static readonly double[] Les = IstioStyleMetrics.DurationBuckets;

    [Fact]
    public void Bounds_are_the_buckets_at_the_stable_p50_p90_p99_and_the_far_tail_above_with_weights_leaning_to_the_tail()
    {
        // 1,000 stable requests: 400 under 25 ms, 200 more under 50, 300 under 100, 95 under 250, 5 under 500.
        double[] les = [25, 50, 100, 250, 500, 1000];
        double[] cumulative = [400, 600, 900, 995, 1000, 1000];
        var chosen = LatencyTailTest.ChooseWeightedBounds(les, cumulative, 1000);
        Assert.Equal([50.0, 100.0, 250.0, 500.0], chosen.Select(c => c.Bound));
        Assert.Equal([0.1, 0.1, 0.2, 0.6], chosen.Select(c => Math.Round(c.Weight, 12)));
        Assert.All(chosen, c => Assert.True(RateRatioTest.ValidWeights(c.Alternatives)));
    }

    [Fact]
    public void A_bound_s_mixture_gives_no_weight_to_rate_ratios_its_quantile_makes_impossible()
    {
        // Above the stable p(q) bound stable has at most 1 - q of its requests, so the canary can have at most 1/(1 - q)
        // times that: θ1/θ0 ≤ 2 at the p50, ≤ 10 at the p90, ≤ 100 at the p99; the far tail keeps every alternative.
        var chosen = LatencyTailTest.ChooseWeightedBounds([25, 50, 100, 250, 500, 1000], [400, 600, 900, 995, 1000, 1000], 1000);
        double Largest(int bound) => RateRatioTest.AlternativeMultipliers.Where((_, i) => chosen[bound].Alternatives[i] > 0).Max();
        Assert.Equal([2.0, 10.0, 100.0, 1000.0], Enumerable.Range(0, 4).Select(Largest));
        Assert.Equal(0.5, chosen[3].Alternatives[^1], 12); // the far tail leans to a canary whose slow requests stable never serves
    }

    [Fact]
    public void Quantiles_in_one_bucket_collapse_with_their_weights_and_mixtures_and_an_empty_histogram_has_no_bounds()
    {
        var chosen = LatencyTailTest.ChooseWeightedBounds([100, 250], [1000, 1000], 1000);
        Assert.Equal([(100.0, 0.4), (250.0, 0.6)], chosen.Select(c => (c.Bound, Math.Round(c.Weight, 12))));
        // The collapsed bound's mixture is the weighted mean of the three quantiles' (the same average, term by term).
        var q = MixtureWeights.LatencyQuantiles;
        var expected = Enumerable.Range(0, 10).Select(i => (0.1 * q[0].Alternatives[i] + 0.1 * q[1].Alternatives[i] + 0.2 * q[2].Alternatives[i]) / 0.4);
        Assert.Equal(expected.Select(x => Math.Round(x, 12)), chosen[0].Alternatives.Select(x => Math.Round(x, 12)));
        Assert.Empty(LatencyTailTest.ChooseWeightedBounds([100, 250], [0, 0], 0));
    }

    [Fact]
    public void Without_a_bound_above_the_p99_the_quantile_weights_are_scaled_to_one()
    {
        var chosen = LatencyTailTest.ChooseWeightedBounds([50, 100, 250], [500, 900, 995], 1000);
        Assert.Equal([50.0, 100.0, 250.0], chosen.Select(c => c.Bound));
        Assert.Equal(1, chosen.Sum(c => c.Weight), 12);
        Assert.Equal(0.2 / 0.4, chosen[2].Weight, 12);
    }

    [Fact]
    public void The_combined_e_value_is_the_weighted_average_of_the_bounds_e_values()
    {
        // Even split, tolerance 0: 10 canary requests of 100 above 100 ms, none of stable's (e = 332.48..., the known
        // mixture value of RateRatioTestTests), nobody above 250 (e = 1).
        double[] les = [100, 250];
        var weighted = LatencyTailTest.Start([100, 250], 0, [0.25, 0.75]).Observe(les, [90, 100], 100, [100, 100], 100);
        Assert.Equal(0.25 * 332.4809597413769 + 0.75, weighted.EValue, 9);
        var plain = LatencyTailTest.Start([100, 250], 0).Observe(les, [90, 100], 100, [100, 100], 100);
        Assert.Equal((332.4809597413769 + 1) / 2, plain.EValue, 9);
    }

    [Fact]
    public void Evidence_saved_before_weights_existed_keeps_its_plain_average()
    {
        var plain = LatencyTailTest.Start([100, 250], 0).Observe([100, 250], [90, 100], 100, [100, 100], 100);
        var json = JsonSerializer.Serialize(plain).Replace(",\"Weights\":null", "");
        Assert.DoesNotContain("Weights", json);
        Assert.Equal(plain.EValue, JsonSerializer.Deserialize<LatencyTailTest>(json)!.EValue, 12);
    }

    [Theory]
    [InlineData(new[] { 0.5 })]
    [InlineData(new[] { 0.5, 0.6 })]
    [InlineData(new[] { 1.0, 0.0 })]
    public void Weights_must_be_one_positive_weight_per_bound_summing_to_one(double[] weights) =>
        Assert.Throws<ArgumentException>(() => LatencyTailTest.Start([100, 250], 0.1, weights));

    [Theory]
    [InlineData(0, 0.8507374371285167)]
    [InlineData(1, 6.084284722252903)]
    [InlineData(2, 49.10210625522052)]
    [InlineData(3, 412.6169449729049)]
    public void Two_slow_canary_requests_beyond_anything_stable_served_reject_at_a_ten_percent_split_and_one_cannot(int k, double expected)
    {
        double[] les = [25, 50, 100, 250, 500, 1000];
        var start = LatencyTailTest.StartFromStable(les, [400, 600, 900, 995, 1000, 1000], 1000, 0.1)!;
        // 100 canary requests shaped like stable's but k of them above 500 ms; 900 stable requests, none above 250 ms.
        // Computed independently: 0.1·e(p50) + 0.1·e(p90) + 0.2·e(p99) + 0.6·e(far tail), each e = Σ_m w_m (p1/p0)^x ((1-p1)/(1-p0))^y
        // with its bound's mixture; at most (1/p0)^k = 9.18^k (84.3 for two) at any one alternative, times its weight.
        var e = start.Observe(les, [40, 60, 90, 100 - k, 100 - k, 100 - k], 100, [360, 540, 810, 900, 900, 900], 900).EValue;
        Assert.Equal(expected, e, 9);
        Assert.Equal(k >= 2, e >= 1 / 0.025);
        Assert.Equal(k >= 1, e >= 5); // one slow canary request holds the step (holdAt 5) for the second to come
    }

    [Fact]
    public void A_tail_only_regression_with_the_same_median_is_rejected()
    {
        // 3% of canary requests take a slow path of +400 ms: the median moves ~1%, the p99 by ~+400 ms.
        var slowTail = ArmBehaviour.Healthy with { SlowShare = 0.03, SlowExtraMs = 400 };
        var (test, medianShift) = Run(seed: 7, slowTail, ticks: 60);
        Assert.True(test.Rejects(0.025), $"e = {test.EValue}");
        Assert.True(Math.Abs(medianShift) < 0.05, $"median moved {medianShift:P1}");
        Assert.Equal(250, test.Strongest!.Value.Bound);
    }

    [Fact]
    public void A_median_shift_of_twenty_percent_is_rejected()
    {
        var (test, _) = Run(seed: 8, ArmBehaviour.Healthy with { MedianMs = 60 }, ticks: 120);
        Assert.True(test.Rejects(0.025), $"e = {test.EValue}");
    }

    [Fact]
    public void A_faster_canary_is_not_rejected()
    {
        var (test, _) = Run(seed: 9, ArmBehaviour.Healthy with { MedianMs = 30 }, ticks: 120);
        Assert.True(test.EValue < 1, $"e = {test.EValue}");
    }

    // 5 s ticks at 100 requests, 20% to the canary; bounds from a stable warm-up. Returns the test and
    // the relative move of the canary's share under the stable median bucket (a median check).
    private static (LatencyTailTest Test, double MedianShift) Run(int seed, ArmBehaviour canary, int ticks)
    {
        var stream = new RequestStream(seed);
        stream.Serve(1000, 0, canary, ArmBehaviour.Healthy);
        var last = stream.Snapshot();
        var test = LatencyTailTest.StartFromStable(Les, last.Stable.Buckets, last.Stable.LatencyCount, 0.1)!;
        for (var t = 0; t < ticks; t++)
        {
            stream.Serve(100, 20, canary, ArmBehaviour.Healthy);
            var now = stream.Snapshot();
            test = test.Observe(Les,
                now.Canary.Buckets.Zip(last.Canary.Buckets, (a, b) => a - b).ToArray(), now.Canary.LatencyCount - last.Canary.LatencyCount,
                now.Stable.Buckets.Zip(last.Stable.Buckets, (a, b) => a - b).ToArray(), now.Stable.LatencyCount - last.Stable.LatencyCount);
            last = now;
        }
        var fifty = Array.IndexOf(Les, 50.0);
        var canaryUnder = last.Canary.Buckets[fifty] / last.Canary.LatencyCount;
        var stableUnder = last.Stable.Buckets[fifty] / last.Stable.LatencyCount;
        return (test, (canaryUnder - stableUnder) / stableUnder);
    }
}

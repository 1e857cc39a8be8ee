using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Analysis.Tests.Sequential;

public class LatencyTailTestTests
{
    private static readonly double[] Les = IstioStyleMetrics.DurationBuckets;

    [Fact]
    public void Bounds_are_the_buckets_at_or_above_the_stable_p50_p90_and_p99()
    {
        // 1,000 stable requests: 400 under 25 ms, 200 more under 50, 300 under 100, 95 under 250, 5 under 500.
        double[] les = [25, 50, 100, 250, 500];
        double[] cumulative = [400, 600, 900, 995, 1000];
        var bounds = LatencyTailTest.ChooseBounds(les, cumulative, 1000, LatencyTailTest.DefaultQuantiles);
        Assert.Equal([50.0, 100.0, 250.0], bounds);
    }

    [Fact]
    public void Quantiles_in_one_bucket_collapse_and_an_empty_histogram_has_no_bounds()
    {
        Assert.Equal([100.0], LatencyTailTest.ChooseBounds([100, 250], [1000, 1000], 1000, LatencyTailTest.DefaultQuantiles));
        Assert.Empty(LatencyTailTest.ChooseBounds([100, 250], [0, 0], 0, LatencyTailTest.DefaultQuantiles));
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
        var bounds = LatencyTailTest.ChooseBounds(Les, last.Stable.Buckets, last.Stable.LatencyCount, LatencyTailTest.DefaultQuantiles);
        var test = LatencyTailTest.Start(bounds, 0.1);
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

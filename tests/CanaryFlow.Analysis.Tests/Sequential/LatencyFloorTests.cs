using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Analysis.Tests.Sequential;

/// <summary>
/// The latency test's floor: no bound below it. The case it ends, from CI's real-server promotion test: the workloads
/// answer in-process in ~0.05 ms, so every stable request is under Istio's 0.5 ms bucket, the bounds were [0.5, 1] ms, and
/// 4 of 212 canary requests slowed past 0.5 ms by the node's scheduling (none of 832 stable) rolled the healthy canary back.
/// </summary>
public class LatencyFloorTests
{
    private static readonly double[] Les = IstioStyleMetrics.DurationBuckets;

    // A service answering in well under 0.5 ms: its whole stable history is in the first bucket.
    private static readonly double[] SubMillisecondStable = Les.Select(_ => 10_000.0).ToArray();

    [Fact]
    public void Without_a_floor_a_sub_millisecond_service_gets_sub_millisecond_bounds()
    {
        var chosen = LatencyTailTest.ChooseWeightedBounds(Les, SubMillisecondStable, 10_000);
        Assert.Equal([0.5, 1.0], chosen.Select(c => c.Bound));
    }

    [Fact]
    public void Bounds_under_the_floor_are_raised_to_the_first_bucket_at_or_above_it_and_the_far_tail_is_the_next()
    {
        var chosen = LatencyTailTest.ChooseWeightedBounds(Les, SubMillisecondStable, 10_000, floor: 5);
        Assert.Equal([(5.0, 0.4), (10.0, 0.6)], chosen.Select(c => (c.Bound, Math.Round(c.Weight, 12))));
        // A floor between two bounds raises to the one above it: nothing below 3 ms is judged.
        Assert.Equal([5.0, 10.0], LatencyTailTest.ChooseWeightedBounds(Les, SubMillisecondStable, 10_000, floor: 3).Select(c => c.Bound));
    }

    [Fact]
    public void Only_the_quantiles_under_the_floor_move()
    {
        // 1,000 stable requests: p50 in the 1 ms bucket, p90 in the 5 ms one, p99 in the 25 ms one.
        double[] les = [0.5, 1, 5, 10, 25, 50];
        double[] cumulative = [100, 600, 950, 980, 995, 1000];
        Assert.Equal([1.0, 5.0, 25.0, 50.0], LatencyTailTest.ChooseWeightedBounds(les, cumulative, 1000).Select(c => c.Bound));
        var floored = LatencyTailTest.ChooseWeightedBounds(les, cumulative, 1000, floor: 5);
        Assert.Equal([(5.0, 0.2), (25.0, 0.2), (50.0, 0.6)], floored.Select(c => (c.Bound, Math.Round(c.Weight, 12))));
    }

    [Fact]
    public void With_every_bucket_bound_under_the_floor_there_is_no_latency_test()
    {
        Assert.Empty(LatencyTailTest.ChooseWeightedBounds([0.5, 1], [100, 100], 100, floor: 5));
        Assert.Null(LatencyTailTest.StartFromStable([0.5, 1], [100, 100], 100, 0.1, floor: 5));
    }

    [Fact]
    public void Canary_requests_slowed_past_half_a_millisecond_reject_without_the_floor_and_are_no_evidence_above_it()
    {
        // CI's case in one increment: 4 of 212 canary requests between 0.5 and 1 ms, none of 832 stable's.
        var unfloored = Observe(LatencyTailTest.StartFromStable(Les, SubMillisecondStable, 10_000, 0.1)!, slowerThan: 0.5, slowCanary: 4);
        Assert.True(unfloored.Rejects(0.025), $"e = {unfloored.EValue}");

        var floored = Observe(LatencyTailTest.StartFromStable(Les, SubMillisecondStable, 10_000, 0.1, floor: 5)!, slowerThan: 0.5, slowCanary: 4);
        Assert.Equal(1, floored.EValue, 12); // no request above 5 ms on either side: the evidence has not moved
    }

    [Fact]
    public void A_tail_regression_above_the_floor_still_rejects()
    {
        // The same service, but 4 of 212 canary requests take 25-50 ms: a regression a user feels.
        var test = Observe(LatencyTailTest.StartFromStable(Les, SubMillisecondStable, 10_000, 0.1, floor: 5)!, slowerThan: 25, slowCanary: 4);
        Assert.True(test.Rejects(0.025), $"e = {test.EValue}");
        Assert.Equal(10, test.Strongest!.Value.Bound);
    }

    [Fact]
    public void The_evidence_takes_its_floor_from_the_settings()
    {
        CounterSnapshot Snapshot(double stable) => new(new ArmCounters(0, 0, Les.Select(_ => 0.0).ToArray(), 0),
            new ArmCounters(stable, 0, Les.Select(_ => stable).ToArray(), stable), Les);
        var evidence = SequentialEvidence.Start(new SequentialSettings(LatencyFloor: 5)).Observe(Snapshot(10_000), new SequentialSettings(LatencyFloor: 5));
        Assert.Equal([5.0, 10.0], evidence.Latency!.Bounds);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SequentialSettings(LatencyFloor: -1).Validate());
    }

    [Theory]
    [InlineData(null, 5)]      // the default, also for a plan stored before the floor existed
    [InlineData(10.0, 10)]
    [InlineData(0.0, 0)]       // no floor
    public void The_spec_s_floor_is_read_in_the_histogram_s_unit_milliseconds(double? floorMs, double expected)
    {
        var spec = new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10),
            LatencyFloor: floorMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null);
        Assert.Equal(expected, SequentialAnalysisRunner.LatencyFloor(spec), 12);
    }

    // One increment: 212 canary requests, slowCanary of them in the bucket above slowerThan; 832 stable, all under 0.5 ms.
    private static LatencyTailTest Observe(LatencyTailTest test, double slowerThan, int slowCanary)
    {
        var canary = Les.Select(le => le > slowerThan ? 212.0 : 212.0 - slowCanary).ToArray();
        return test.Observe(Les, canary, 212, Les.Select(_ => 832.0).ToArray(), 832);
    }
}

using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Sandbox.Simulation;

namespace CanaryFlow.Analysis.Tests.Sequential;

/// <summary>
/// The false-alarm bound, checked by seeded simulation: healthy A/A rollouts (both versions the same,
/// load swinging, weights stepping 10 → 50, bursts of 5xx hitting both alike), looked at every 5 s tick.
/// A fixed-sample test looked at that often would reject far more than α of them.
/// </summary>
public class FalseAlarmSimulationTests
{
    private const int Runs = 1000;
    private const int Ticks = 120;            // 10 minutes of 5 s ticks
    private const double Alpha = 0.05;

    [Fact]
    public void Healthy_noisy_a_a_rollouts_are_rejected_at_most_alpha_of_the_time_by_either_test()
    {
        var settings = new SequentialSettings(Alpha, Tolerance: 0.1);
        var rejected = 0;
        for (var run = 0; run < Runs; run++)
            if (RunRejects(seed: 1000 + run, settings, ArmBehaviour.Healthy, ArmBehaviour.Healthy, bursts: true) != null) rejected++;
        Assert.True(rejected <= Alpha * Runs, $"{rejected} of {Runs} healthy rollouts rejected (alpha {Alpha})");
    }

    [Fact]
    public void Healthy_a_a_rollouts_with_a_slow_tail_in_both_keep_the_latency_test_within_its_share_of_alpha()
    {
        // 2% of both versions' requests take +510 ms: the far-tail bound (500 ms) has real mass in both, so its
        // canary counts are not near zero under H0, and the tail weighting has something to be wrong about.
        var settings = new SequentialSettings(Alpha, Tolerance: 0.1);
        var slow = ArmBehaviour.Healthy with { SlowShare = 0.02, SlowExtraMs = 510 };
        var rejected = 0;
        for (var run = 0; run < Runs; run++)
            if (RunRejects(seed: 9000 + run, settings, slow, slow, bursts: false) == "latency-tail") rejected++;
        Assert.True(rejected <= settings.LatencyAlpha * Runs, $"{rejected} of {Runs} healthy rollouts rejected by the latency test (alpha {settings.LatencyAlpha})");
    }

    [Fact]
    public void The_same_streams_with_a_canary_one_point_worse_are_caught_nearly_always()
    {
        // The simulation can fail: a judge that never rejects passes the A/A test above, not this one.
        // (Without the shared bursts: a burst's many errors at a near-even ratio count against the large
        // alternatives; docs/sequential-analysis.md has the figures with bursts.)
        var settings = new SequentialSettings(Alpha, Tolerance: 0.1);
        var caught = 0;
        for (var run = 0; run < 200; run++)
            if (RunRejects(seed: 5000 + run, settings, ArmBehaviour.Healthy with { ErrorRate = 0.011 }, ArmBehaviour.Healthy, bursts: false) != null) caught++;
        Assert.True(caught >= 190, $"caught {caught} of 200");
    }

    /// <summary>The test that rejected ("error-rate", "latency-tail"), null for none.</summary>
    private static string? RunRejects(int seed, SequentialSettings settings, ArmBehaviour canary, ArmBehaviour stable, bool bursts)
    {
        var stream = new RequestStream(seed);
        stream.ServeStableHistory(600, 20, stable, seed + 1); // the stable version's past: the latency bounds are chosen at once
        var evidence = SequentialEvidence.Start(settings).Observe(stream.Snapshot(), settings);
        var burstUntil = -1;
        for (var tick = 0; tick < Ticks; tick++)
        {
            var weight = Math.Min(50, 10 * (1 + tick / 24));
            var load = 100 * (1 + 0.5 * Math.Sin(tick / 10.0));          // requests per 5 s tick, swinging
            if (bursts && burstUntil < tick && stream.NextDouble() < 0.03) burstUntil = tick + 2;
            var burst = tick <= burstUntil ? 0.2 : 0;                         // both versions alike
            stream.Serve(load, weight, canary, stable, burst);
            evidence = evidence.Observe(stream.Snapshot(), settings);
            if (evidence.Decide(settings, intervalElapsed: false) is { Outcome: SequentialOutcome.Reject } d) return d.Test;
        }
        return null;
    }
}

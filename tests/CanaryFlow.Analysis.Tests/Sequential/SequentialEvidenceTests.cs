using CanaryFlow.Analysis.Sequential;

namespace CanaryFlow.Analysis.Tests.Sequential;

public class SequentialEvidenceTests
{
    private static readonly SequentialSettings Settings = new(Alpha: 0.05, Tolerance: 0.1, MinRequests: 50, MinStableForBounds: 200);

    [Fact]
    public void No_data_never_passes_even_after_the_interval()
    {
        var e = SequentialEvidence.Start(Settings);
        var d = e.Decide(Settings, intervalElapsed: true);
        Assert.Equal(SequentialOutcome.Continue, d.Outcome);
        Assert.Equal("minimum-evidence", d.Test);
    }

    [Fact]
    public void The_first_snapshot_is_only_a_baseline()
    {
        var e = SequentialEvidence.Start(Settings).Observe(Snapshots.Counts(10_000, 10_000, 10_000, 0), Settings);
        Assert.Equal(0, e.Errors.CanaryExposure);
        Assert.Equal(SequentialOutcome.Continue, e.Decide(Settings, true).Outcome);
    }

    [Fact]
    public void A_step_passes_after_its_interval_with_the_minimum_evidence_and_no_rejection()
    {
        var e = SequentialEvidence.Start(Settings).Observe(Snapshots.Counts(0, 0, 0, 0), Settings).Observe(Snapshots.Counts(60, 0, 540, 1), Settings);
        Assert.Equal(SequentialOutcome.Continue, e.Decide(Settings, intervalElapsed: false).Outcome);
        var pass = e.Decide(Settings, intervalElapsed: true);
        Assert.Equal(SequentialOutcome.Pass, pass.Outcome);
        Assert.Contains("canary 0/60 5xx, stable 1/540", pass.Detail);
    }

    [Fact]
    public void A_new_step_needs_its_own_minimum_evidence()
    {
        var e = SequentialEvidence.Start(Settings).Observe(Snapshots.Counts(0, 0, 0, 0), Settings).Observe(Snapshots.Counts(60, 0, 540, 1), Settings).StartStep();
        Assert.Equal(SequentialOutcome.Continue, e.Decide(Settings, true).Outcome);
        e = e.Observe(Snapshots.Counts(120, 0, 1000, 1), Settings);
        Assert.Equal(SequentialOutcome.Pass, e.Decide(Settings, true).Outcome);
    }

    [Fact]
    public void A_canary_failing_every_request_is_rejected_at_the_first_tick_with_evidence_naming_the_test_and_alpha()
    {
        var e = SequentialEvidence.Start(Settings).Observe(Snapshots.Counts(0, 0, 0, 0), Settings).Observe(Snapshots.Counts(20, 20, 180, 0), Settings);
        var d = e.Decide(Settings, intervalElapsed: false);
        Assert.Equal(SequentialOutcome.Reject, d.Outcome);
        Assert.Equal("error-rate", d.Test);
        Assert.Contains("canary 20/20 5xx", d.Detail);
        Assert.Contains("of 0.025", d.Detail);
    }

    [Fact]
    public void A_counter_reset_rebaselines_instead_of_counting_negative_or_double()
    {
        var e = SequentialEvidence.Start(Settings)
            .Observe(Snapshots.Counts(1000, 0, 9000, 9), Settings)
            .Observe(Snapshots.Counts(5, 0, 30, 0), Settings)        // canary pods restarted: sums went down
            .Observe(Snapshots.Counts(65, 0, 570, 1), Settings);
        Assert.Equal(60, e.Errors.CanaryExposure);
        Assert.Equal(540, e.Errors.StableExposure);
    }

    [Fact]
    public void Ticks_missed_in_an_outage_fold_into_the_next_increment()
    {
        var every = SequentialEvidence.Start(Settings).Observe(Snapshots.Counts(0, 0, 0, 0), Settings)
            .Observe(Snapshots.Counts(50, 1, 450, 0), Settings).Observe(Snapshots.Counts(100, 3, 900, 1), Settings);
        var gap = SequentialEvidence.Start(Settings).Observe(Snapshots.Counts(0, 0, 0, 0), Settings)
            .Observe(Snapshots.Counts(100, 3, 900, 1), Settings);
        Assert.Equal(every.Errors.CanaryEvents, gap.Errors.CanaryEvents);
        Assert.Equal(every.Errors.StableExposure, gap.Errors.StableExposure);
        // Same weights throughout, so the same evidence up to how the events fell into increments.
        Assert.InRange(gap.Errors.LogEValue / every.Errors.LogEValue, 0.5, 2);
    }

    [Fact]
    public void Latency_bounds_wait_for_enough_stable_histogram_data()
    {
        double[] les = [50, 100, 250];
        var few = new CounterSnapshot(new ArmCounters(0, 0, [0, 0, 0], 0), new ArmCounters(100, 0, [50, 90, 100], 100), les);
        Assert.Null(SequentialEvidence.Start(Settings).Observe(few, Settings).Latency);
        var enough = new CounterSnapshot(new ArmCounters(0, 0, [0, 0, 0], 0), new ArmCounters(1000, 0, [500, 900, 995], 1000), les);
        Assert.Equal([50.0, 100.0, 250.0], SequentialEvidence.Start(Settings).Observe(enough, Settings).Latency!.Bounds);
    }

    [Fact]
    public void Settings_outside_their_ranges_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SequentialEvidence.Start(new SequentialSettings(Alpha: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SequentialEvidence.Start(new SequentialSettings(Alpha: 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SequentialEvidence.Start(new SequentialSettings(MinRequests: 0)));
    }
}

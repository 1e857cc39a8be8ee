using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Simulation;

namespace CanaryFlow.Analysis.Tests.Sequential;

/// <summary>
/// The hold of a step (spec.analysis.sequential.holdAt): a step whose interval is over is not passed while a test's
/// e-value is strong but not decisive, for at most the hold's length; it never rejects on its own, so the false-rollback
/// bound stays α.
/// </summary>
public class StepHoldTests
{
    private static readonly SequentialSettings Holding = new(Alpha: 0.05, Tolerance: 0.1, MinRequests: 50, HoldAt: 10);

    /// <summary>Two canary 5xx and none of stable's at a 20% split: e ≈ 17.2, above 10 and below the 40 that rejects (at a
    /// 10% split the same two reject: 59.2, the error-rate mixture leaning to large ratios).</summary>
    private static SequentialEvidence TwoCanaryErrors(SequentialSettings settings) =>
        SequentialEvidence.Start(settings).Observe(Snapshots.Counts(0, 0, 0, 0), settings).Observe(Snapshots.Counts(200, 2, 800, 0), settings);

    [Fact]
    public void A_step_with_strong_but_not_decisive_evidence_is_held_past_its_interval_and_says_which_test_and_why()
    {
        var evidence = TwoCanaryErrors(Holding);
        Assert.InRange(evidence.Errors.EValue, 10, 1 / Holding.ErrorAlpha);

        var held = evidence.Decide(Holding, intervalElapsed: true, holdOver: false);

        Assert.Equal((SequentialOutcome.Continue, SequentialEvidence.HoldTest), (held.Outcome, held.Test));
        Assert.StartsWith("step held: error-rate e=17.158 ≥ 10, strong evidence against the canary but not decisive (rejects at 40)", held.Detail);
        Assert.Contains("canary 2/200 5xx, stable 0/800", held.Detail);
    }

    [Fact]
    public void A_held_step_passes_at_the_end_of_the_hold_whatever_the_evidence_below_the_rejection()
    {
        var pass = TwoCanaryErrors(Holding).Decide(Holding, intervalElapsed: true, holdOver: true);
        Assert.Equal(SequentialOutcome.Pass, pass.Outcome);
    }

    [Fact]
    public void A_held_step_passes_as_soon_as_the_evidence_falls_below_the_hold()
    {
        var evidence = TwoCanaryErrors(Holding).Observe(Snapshots.Counts(400, 2, 1600, 3), Holding); // three stable 5xx: the ratio looks even again (e ≈ 0.21)
        Assert.True(evidence.Errors.EValue < Holding.HoldAt, $"e={evidence.Errors.EValue}");
        Assert.Equal(SequentialOutcome.Pass, evidence.Decide(Holding, intervalElapsed: true, holdOver: false).Outcome);
    }

    [Theory]
    [InlineData(0)]      // off: the default
    [InlineData(30)]     // above this evidence
    public void Without_a_hold_or_below_it_the_step_passes_at_its_interval(double holdAt)
    {
        var settings = Holding with { HoldAt = holdAt };
        Assert.Equal(SequentialOutcome.Pass, TwoCanaryErrors(settings).Decide(settings, intervalElapsed: true, holdOver: false).Outcome);
    }

    [Fact]
    public void The_hold_never_rejects_and_never_passes_early()
    {
        var evidence = TwoCanaryErrors(Holding);
        Assert.Equal("interval", evidence.Decide(Holding, intervalElapsed: false, holdOver: false).Test); // before the interval: as ever
        var decisive = evidence.Observe(Snapshots.Counts(300, 3, 1200, 0), Holding); // the third canary 5xx: e ≈ 74.3
        Assert.Equal(SequentialOutcome.Reject, decisive.Decide(Holding, intervalElapsed: true, holdOver: false).Outcome);
        Assert.Throws<ArgumentOutOfRangeException>(() => (Holding with { HoldAt = -1 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (Holding with { HoldAt = double.PositiveInfinity }).Validate());
    }

    private const int Runs = 1000;
    private const int IntervalTicks = 12;   // 60 s steps of 5 s ticks
    private const int MaxHoldTicks = 12;    // held for at most one more interval
    private static readonly int[] Weights = [10, 20, 30, 40, 50];

    [Theory]
    [InlineData(10)]
    [InlineData(SequentialSpec.DefaultHoldAt)] // 3: held more often, and still only a rejection rolls back
    public void Healthy_rollouts_whose_steps_are_held_are_rolled_back_at_most_alpha_of_the_time_and_every_step_ends_within_its_bound(double holdAt)
    {
        // Steps move only when Decide passes them, so a held step keeps its weight and is looked at for longer: the
        // case a fixed-sample test would pay for. Noisy (5xx bursts in both), so the tests do reach the hold.
        var (rejected, heldSteps, longest) = (0, 0, 0);
        for (var run = 0; run < Runs; run++)
        {
            var (rejects, held, longestStep, _) = Rollout(seed: 7000 + run, ArmBehaviour.Healthy, bursts: true, Holding with { HoldAt = holdAt });
            if (rejects) rejected++;
            heldSteps += held;
            longest = Math.Max(longest, longestStep);
        }
        Assert.True(rejected <= Holding.Alpha * Runs, $"{rejected} of {Runs} healthy rollouts rejected (alpha {Holding.Alpha})");
        Assert.True(heldSteps > 0, "no step was held: the simulation does not exercise the hold");
        Assert.InRange(longest, IntervalTicks, IntervalTicks + MaxHoldTicks);
    }

    [Fact]
    public void A_canary_with_a_slow_tail_is_held_at_the_first_step_more_often_than_it_is_passed_to_the_second_unjudged()
    {
        // The same simulation can fail: 2% of the canary's requests 510 ms slower. Held, the first step gives the third
        // slow request time to come; without the hold, more of them leave 10% before the test decides.
        var settings = Holding;
        int AtFirstStep(SequentialSettings s) => Enumerable.Range(0, 200)
            .Count(run => Rollout(seed: 3000 + run, ArmBehaviour.Healthy with { SlowShare = 0.02, SlowExtraMs = 510 }, bursts: false, s).RejectedAtStep == 0);
        var held = AtFirstStep(settings);
        var plain = AtFirstStep(settings with { HoldAt = 0 });
        Assert.True(held > plain, $"caught at the first step: {held} of 200 held, {plain} of 200 without the hold");
    }

    /// <summary>One rollout at 20 requests/s (100 per tick), steps decided by <see cref="SequentialEvidence.Decide"/>.</summary>
    private static (bool Rejects, int HeldSteps, int LongestStep, int? RejectedAtStep) Rollout(int seed, ArmBehaviour canary, bool bursts, SequentialSettings? settings = null)
    {
        settings ??= Holding;
        var stream = new RequestStream(seed);
        stream.ServeStableHistory(600, 20, ArmBehaviour.Healthy, seed + 1);
        var evidence = SequentialEvidence.Start(settings).Observe(stream.Snapshot(), settings);
        var (step, stepStart, burstUntil, heldSteps, longest, heldThisStep) = (0, 0, -1, 0, 0, false);
        for (var tick = 1; tick <= 200; tick++)
        {
            if (bursts && burstUntil < tick && stream.NextDouble() < 0.03) burstUntil = tick + 2;
            stream.Serve(100 * (1 + 0.5 * Math.Sin(tick / 10.0)), Weights[step], canary, ArmBehaviour.Healthy, tick <= burstUntil ? 0.2 : 0);
            evidence = evidence.Observe(stream.Snapshot(), settings);
            var age = tick - stepStart;
            var decision = evidence.Decide(settings, intervalElapsed: age >= IntervalTicks, holdOver: age >= IntervalTicks + MaxHoldTicks);
            if (decision.Outcome == SequentialOutcome.Reject) return (true, heldSteps, longest, step);
            if (decision.Test == SequentialEvidence.HoldTest && !heldThisStep) (heldSteps, heldThisStep) = (heldSteps + 1, true);
            if (decision.Outcome != SequentialOutcome.Pass) continue;
            longest = Math.Max(longest, age);
            if (step == Weights.Length - 1) break;
            (step, stepStart, heldThisStep) = (step + 1, tick, false);
            evidence = evidence.StartStep();
        }
        return (false, heldSteps, longest, null);
    }
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>Sequential ticks that only move the running evidence are not written to the Canary status every time.</summary>
public sealed class EvidenceWriteThrottleTests : SandboxTest
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static RolloutState Sequential(RolloutTarget target) => new()
    {
        CorrelationId = RolloutIds.ForTarget(target), Target = target, Revision = "r2", StableRevision = "r1",
        CurrentState = RolloutPhases.Progressing, AppliedWeight = 10, DesiredWeight = 10, StepIndex = 0, Version = 1,
        LastReason = "canary weight 10%", LastTransitionAt = T0,
        Plan = new RolloutPlan([10, 50], TimeSpan.FromMinutes(1), 2, 0, 0, TimeSpan.FromMinutes(30), [], false,
            new AnalysisSpec(50, [], null, new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10)))),
        SequentialEvidence = "evidence 1", AnalysisSequence = 1,
    };

    private static RolloutState Next(RolloutState s, Action<RolloutState> change)
    {
        var n = s.Clone();
        n.Version = s.Version + 1;
        change(n);
        return n;
    }

    [Fact]
    public async Task A_tick_that_only_moves_the_evidence_is_held_and_written_with_the_next_visible_change_under_the_same_concurrency_check()
    {
        var target = await Host.InitializedAsync();
        var store = Host.Get<IRolloutStore>();
        var v1 = Sequential(target);
        await store.SaveAsync(v1, 0, default);
        var v2 = Next(v1, s => { s.SequentialEvidence = "evidence 2"; s.AnalysisSequence = 2; s.LastAnalysisAt = T0.AddSeconds(5); });
        await store.SaveAsync(v2, 1, default);
        var v3 = Next(v2, s => { s.SequentialEvidence = "evidence 3"; s.AnalysisSequence = 3; });
        await store.SaveAsync(v3, 2, default);

        Assert.Equal(1, (long?)(await Host.GetCanaryAsync("podinfo"))["status"]!["stateVersion"]); // held: not written
        Assert.Equal("evidence 3", Assert.Single(await store.LoadAllAsync(default)).SequentialEvidence); // the engine reads the newest

        var v4 = Next(v3, s => { s.AppliedWeight = 50; s.LastReason = "canary weight 50%"; });
        await store.SaveAsync(v4, 3, default); // expects 3 in memory; the Canary holds 1, written by this replica
        var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal((4L, 50), ((long?)status["stateVersion"], (int?)status["canaryWeight"]));
        Assert.Contains("evidence 3", (string?)status[CanaryStatusRolloutStore.StateField]);

        // Another writer's version is still a conflict.
        await Assert.ThrowsAsync<RolloutConcurrencyException>(() => store.SaveAsync(Next(v4, s => s.AppliedWeight = 60), 2, default));
    }

    [Fact]
    public async Task A_fresh_reload_keeps_a_held_save_nobody_overwrote_so_the_next_save_does_not_conflict()
    {
        var target = await Host.InitializedAsync();
        var store = Host.Get<IRolloutStore>();
        var v1 = Sequential(target);
        await store.SaveAsync(v1, 0, default);
        var v2 = Next(v1, s => { s.SequentialEvidence = "evidence 2"; s.AnalysisSequence = 2; });
        await store.SaveAsync(v2, 1, default); // held

        // Another partition taken (or leadership regained): the engine reloads from the durable copies.
        var reloaded = Assert.Single(await store.LoadAllAsync(default, fresh: true));

        Assert.Equal((2L, "evidence 2"), (reloaded.Version, reloaded.SequentialEvidence));
        var v3 = Next(v2, s => { s.AppliedWeight = 50; s.LastReason = "canary weight 50%"; });
        await store.SaveAsync(v3, 2, default); // the engine's in-memory version; the Canary still holds 1, written here
        Assert.Equal(3L, (long?)(await Host.GetCanaryAsync("podinfo"))["status"]!["stateVersion"]);
    }

    [Fact]
    public void Evidence_is_written_at_the_latest_one_interval_after_the_last_write_and_visible_changes_at_once()
    {
        var throttle = new EvidenceWriteThrottle(TimeSpan.FromSeconds(30));
        var v1 = Sequential(new RolloutTarget("shop", "checkout"));
        Assert.False(throttle.MayHold(v1, 0, T0)); // nothing written yet
        throttle.Wrote(v1, T0);
        var v2 = Next(v1, s => s.SequentialEvidence = "evidence 2");
        Assert.True(throttle.MayHold(v2, 1, T0.AddSeconds(29)));
        Assert.False(throttle.MayHold(v2, 1, T0.AddSeconds(30)));
        Assert.False(throttle.MayHold(Next(v1, s => s.MetricsDownSince = T0), 1, T0.AddSeconds(1))); // a hold begins: people see it
        Assert.False(throttle.MayHold(Next(v1, s => s.FailedChecks = 1), 1, T0.AddSeconds(1)));
        Assert.Equal(1, throttle.StoredVersion(v1.CorrelationId, 3));
        Assert.False(new EvidenceWriteThrottle(TimeSpan.Zero).MayHold(v2, 1, T0)); // off: every save is written
    }

    [Fact]
    public void A_written_state_is_remembered_without_its_evidence_and_still_compared_by_what_people_see()
    {
        var throttle = new EvidenceWriteThrottle(TimeSpan.FromSeconds(30));
        var (written, evidence, verdict) = WriteStateWithLargeEvidence(throttle);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(evidence.IsAlive); // the running evidence's text is the engine's to keep, not the throttle's
        Assert.False(verdict.IsAlive);
        Assert.True(throttle.MayHold(Next(written, s => s.SequentialEvidence = "evidence 2"), 1, T0.AddSeconds(1)));
        Assert.False(throttle.MayHold(Next(written, s => s.AppliedWeight = 50), 1, T0.AddSeconds(1)));
    }

    // Apart, so that no local of the test keeps the evidence alive; the state returned is an equal one built afresh.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (RolloutState Written, WeakReference Evidence, WeakReference Verdict) WriteStateWithLargeEvidence(EvidenceWriteThrottle throttle)
    {
        var target = new RolloutTarget("shop", "checkout");
        var state = Sequential(target);
        state.SequentialEvidence = new string('e', 10_000);
        state.LastEvidence = new AnalysisEvidence(new string('v', 10_000), []);
        var refs = (new WeakReference(state.SequentialEvidence), new WeakReference(state.LastEvidence));
        throttle.Wrote(state, T0);
        return (Sequential(target), refs.Item1, refs.Item2);
    }
}

using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Tests.Rollouts;

public sealed class RolloutStateMachineTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");
    private static Guid Id => RolloutIds.ForTarget(Target);

    private static async Task<RolloutState> AtWeight(EngineUnderTest e, int weight) =>
        await e.Until(Target, s => s.AppliedWeight == weight && s.Pending == null && s.NextAnalysisAt != null, $"canary at {weight}%");

    [Fact]
    public async Task Passing_checks_move_traffic_10_to_100_then_promote()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);

        await AtWeight(e, 10);
        foreach (var weight in new[] { 20, 30, 40, 50, 60, 70, 80, 90, 100 })
        {
            await e.Tick();
            var s = await AtWeight(e, weight);
            Assert.Equal(RolloutPhases.Progressing, s.CurrentState);
        }
        await e.Tick();
        var done = await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promotion");

        var world = e.World[Target];
        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], world.AppliedWeights);
        Assert.Equal("v2", world.StableRevision);
        Assert.Equal(0, world.CanaryReplicas);
        Assert.Equal("v2", done.StableRevision);
        Assert.True(await e.Harness.Published.Any<RolloutSucceeded>(x => x.Context.Message.CorrelationId == Id));
    }

    [Fact]
    public async Task Explicit_steps_are_followed_in_order()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(5, 25, 60));
        await AtWeight(e, 5);
        await e.Tick(); await AtWeight(e, 25);
        await e.Tick(); await AtWeight(e, 60);
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promotion");
        Assert.Equal([5, 25, 60, 0], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task A_breach_at_50_percent_rolls_back_to_stable_and_scales_the_canary_down()
    {
        await using var e = await EngineUnderTest.StartAsync();
        e.World[Target].StableRevision = "v1";
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);
        for (var w = 20; w <= 50; w += 10) { await e.Tick(); await AtWeight(e, w); }

        e.World[Target].Default = VerdictOutcome.Failed;
        await e.Tick();
        var s = await e.Until(Target, s => s.FailedChecks == 1, "first failed check");
        Assert.Equal(50, s.AppliedWeight); // one failure below the limit of 2 holds the weight
        await e.Tick();
        s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rollback");

        var world = e.World[Target];
        Assert.Equal([10, 20, 30, 40, 50, 0], world.AppliedWeights);
        Assert.Equal(0, world.CanaryReplicas);
        Assert.Equal("v1", world.StableRevision);
        Assert.Contains("failed checks", s.LastReason);
        Assert.True(await e.Harness.Published.Any<RolloutRolledBack>(x => x.Context.Message.CorrelationId == Id));
        Assert.True(await e.Harness.Published.Any<RolloutFailed>(x => x.Context.Message.CorrelationId == Id));
    }

    [Fact]
    public async Task Inconclusive_checks_never_advance_the_weight()
    {
        await using var e = await EngineUnderTest.StartAsync();
        e.World[Target].Default = VerdictOutcome.NoData;
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);

        for (var i = 1; i <= 5; i++)
        {
            await e.Tick();
            await e.Until(Target, s => s.ConsecutiveNoData == i, $"inconclusive check {i}");
        }
        var s = await e.Find(Target);
        Assert.Equal(RolloutPhases.Progressing, s!.CurrentState);
        Assert.Equal(10, s.AppliedWeight);
        Assert.Equal([10], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task Too_many_consecutive_inconclusive_checks_roll_back_when_a_limit_is_set()
    {
        await using var e = await EngineUnderTest.StartAsync();
        e.World[Target].Default = VerdictOutcome.QueryError;
        await e.Request(Target, "v2", TestPlans.TenToHundred with { ErrorLimit = 3 });
        await AtWeight(e, 10);
        for (var i = 1; i <= 2; i++)
        {
            await e.Tick();
            await e.Until(Target, s => s.ConsecutiveErrors == i, $"query error {i}");
        }
        await e.Tick();
        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rollback after 3 query errors");
        Assert.Contains("QueryError", s.LastReason);
        Assert.Equal(0, e.World[Target].CanaryWeight);
    }

    [Fact]
    public async Task A_fixed_window_rollout_holds_while_its_metrics_source_does_not_answer_and_resumes_when_it_does()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);
        e.World[Target].Default = VerdictOutcome.QueryError;
        await e.Tick();
        var held = await e.Until(Target, s => s.MetricsDownSince != null, "a held rollout");
        Assert.StartsWith("holding at 10%: the metrics source does not answer", held.LastReason);
        await e.Tick();
        await e.Until(Target, s => s.ConsecutiveErrors == 2, "a second query error");
        Assert.Equal(held.MetricsDownSince, (await e.Find(Target))!.MetricsDownSince);

        e.World[Target].Default = VerdictOutcome.Passed;
        await e.Tick();
        var resumed = await AtWeight(e, 20);
        Assert.Null(resumed.MetricsDownSince);
        var said = e.Harness.Published.Select<RolloutTransitioned>().Select(x => x.Context.Message).OrderBy(t => t.Version).ToList();
        Assert.Single(said, t => t.HoldingSince != null && t.Reason.StartsWith("holding at 10%"));
        Assert.Contains(said, t => t.HoldingSince == null && t.Reason.Contains("answers again"));
        Assert.Equal([10, 20], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task Abort_during_analysis_rolls_back_at_once()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);
        await e.Tick(); await AtWeight(e, 20);

        await e.Publish(new AbortRollout(Id, Target, "user:alice", "customer complaints"));
        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rollback");
        Assert.Contains("aborted by user:alice", s.LastReason);
        Assert.Equal([10, 20, 0], e.World[Target].AppliedWeights);
        Assert.Equal(0, e.World[Target].CanaryReplicas);
    }

    [Fact]
    public async Task Pause_holds_the_weight_while_checks_keep_running_and_promote_while_paused_finishes()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);
        await e.Publish(new PauseRollout(Id, Target, "user:bob", "looking at logs"));
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Paused, "paused");

        for (var i = 1; i <= 3; i++)
        {
            await e.Tick();
            await e.Until(Target, s => s.PassedChecks == i, $"check {i} while paused");
        }
        Assert.Equal([10], e.World[Target].AppliedWeights);

        await e.Publish(new PromoteRollout(Id, Target, "user:bob", "looks good"));
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promotion");
        Assert.Equal([10, 0], e.World[Target].AppliedWeights);
        Assert.Equal("v2", e.World[Target].StableRevision);
    }

    [Fact]
    public async Task Resume_continues_from_the_step_where_the_rollout_paused()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50));
        await AtWeight(e, 10);
        await e.Publish(new PauseRollout(Id, Target, "user:bob", "hold"));
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Paused, "paused");
        await e.Publish(new ResumeRollout(Id, Target, "user:bob", "go on"));
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Progressing, "resumed");
        await e.Tick();
        await AtWeight(e, 50);
    }

    [Fact]
    public async Task A_breach_while_paused_still_rolls_back()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred with { FailureLimit = 1 });
        await AtWeight(e, 10);
        await e.Publish(new PauseRollout(Id, Target, "user:bob", "hold"));
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Paused, "paused");
        e.World[Target].Default = VerdictOutcome.Failed;
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rollback while paused");
        Assert.Equal(0, e.World[Target].CanaryWeight);
    }

    [Fact]
    public async Task An_approval_gate_before_promotion_waits_for_a_promote_message()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50) with { ApprovalBeforePromotion = true });
        await AtWeight(e, 10);
        await e.Tick(); await AtWeight(e, 50);
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.WaitingApproval, "gate");
        for (var i = 3; i <= 5; i++)
        {
            await e.Tick();
            await e.Until(Target, s => s.PassedChecks == i, $"check {i} at the gate");
        }
        Assert.Equal(RolloutPhases.WaitingApproval, (await e.Find(Target))!.CurrentState);
        Assert.Null(e.World[Target].StableRevision);

        await e.Publish(new PromoteRollout(Id, Target, "slack:U42", "approved"));
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promotion after approval");
        Assert.Equal("v2", e.World[Target].StableRevision);
    }

    [Fact]
    public async Task A_breach_at_an_approval_gate_still_rolls_back()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10, 30, 60) with { ApprovalAtWeights = [30], FailureLimit = 1 });
        await AtWeight(e, 10);
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.WaitingApproval && s.AppliedWeight == 30, "gate at 30%");
        e.World[Target].Default = VerdictOutcome.Failed;
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rollback at the gate");
        Assert.Equal([10, 30, 0], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task Approving_a_gate_at_a_weight_continues_with_the_next_step()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10, 30, 60) with { ApprovalAtWeights = [30] });
        await AtWeight(e, 10);
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.WaitingApproval, "gate at 30%");
        await e.Publish(new PromoteRollout(Id, Target, "user:carol", "ok"));
        await AtWeight(e, 60);
    }

    [Fact]
    public async Task A_new_revision_supersedes_the_running_rollout_which_rolls_back_first()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);
        await e.Tick(); await AtWeight(e, 20);

        await e.Request(Target, "v3", TestPlans.TenToHundred);
        var s = await e.Until(Target, s => s.Revision == "v3" && s.AppliedWeight == 10 && s.Pending == null, "v3 at its first step");
        Assert.Equal(0, s.StepIndex);
        Assert.Equal([10, 20, 0, 10], e.World[Target].AppliedWeights);
        Assert.True(await e.Harness.Published.Any<RolloutSuperseded>(x => x.Context.Message.NewRevision == "v3"));
    }

    [Fact]
    public async Task A_duplicated_request_is_recognised_as_the_same_rollout()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await e.Consumed<RolloutRequested>(_ => true);
        await e.Tick(); await AtWeight(e, 20);

        Assert.Single(e.Harness.Published.Select<RolloutStarted>());
        Assert.Equal([10, 20], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task A_duplicated_verdict_advances_only_one_step()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        var s = await AtWeight(e, 10);
        var verdict = new AnalysisPassed(Id, s.RolloutId, s.AnalysisSequence, new AnalysisEvidence("ok", []), e.Clock.GetUtcNow());
        await e.Publish(verdict);
        await AtWeight(e, 20);
        await e.Publish(verdict); // redelivered
        await e.Until(Target, _ => e.Harness.Consumed.Select<AnalysisPassed>().Count(x => x.Context.Message.Sequence == verdict.Sequence) == 2, "the duplicate consumed");
        Assert.Equal(20, (await e.Find(Target))!.AppliedWeight);
        Assert.Equal([10, 20], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task A_canary_that_never_becomes_ready_rolls_back_without_moving_traffic()
    {
        var world = new InMemoryWorld();
        world[Target].CanaryNeverReady = true;
        await using var e = await EngineUnderTest.StartAsync(world);
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "failure");
        Assert.Contains("canary not ready", s.LastReason);
        Assert.DoesNotContain(world[Target].AppliedWeights, w => w > 0);
    }

    [Fact]
    public async Task A_rollout_without_progress_fails_at_its_deadline_instead_of_hanging()
    {
        await using var e = await EngineUnderTest.StartAsync();
        e.World[Target].Default = VerdictOutcome.NoData;
        await e.Request(Target, "v2", TestPlans.TenToHundred with { ProgressDeadline = TimeSpan.FromMinutes(5) });
        await AtWeight(e, 10);
        for (var i = 1; i <= 4; i++)
        {
            await e.Tick();
            await e.Until(Target, s => s.ConsecutiveNoData == i, $"inconclusive check {i}");
        }
        await e.Tick(TimeSpan.FromMinutes(2));
        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "deadline");
        Assert.Contains("progress deadline", s.LastReason);
        Assert.Equal(0, e.World[Target].CanaryWeight);
    }

    [Fact]
    public async Task A_failed_rollout_can_be_retried_without_a_new_revision()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50));
        await AtWeight(e, 10);
        await e.Publish(new AbortRollout(Id, Target, "user:alice", "test"));
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "aborted");

        await e.Publish(new RetryRollout(Id, Target, "user:alice", "try again"));
        await AtWeight(e, 10);
        await e.Tick(); await AtWeight(e, 50);
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promotion on retry");
        Assert.Equal([10, 0, 10, 50, 0], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task A_stable_set_that_fails_during_promotion_leaves_traffic_on_the_canary()
    {
        await using var e = await EngineUnderTest.StartAsync();
        e.World[Target].StableNeverReady = true;
        await e.Request(Target, "v2", TestPlans.Steps(10, 100));
        await AtWeight(e, 10);
        await e.Tick(); await AtWeight(e, 100);
        await e.Tick();
        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "promotion failure");
        Assert.Contains("promotion failed", s.LastReason);
        Assert.Equal(100, e.World[Target].CanaryWeight);
    }

    [Fact]
    public async Task Every_phase_change_is_announced_with_a_snapshot()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10));
        await AtWeight(e, 10);
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promotion");
        var phases = e.Harness.Published.Select<RolloutTransitioned>().Select(x => x.Context.Message)
            .OrderBy(t => t.Version).Select(t => $"{t.FromPhase}>{t.Phase}@{t.CanaryWeight}").ToList();
        Assert.Equal(["Initial>Initializing@0", "Initializing>Progressing@0", "Progressing>Progressing@10", "Progressing>Promoting@10", "Promoting>Succeeded@0"], phases);
    }
}

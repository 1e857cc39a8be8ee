using System.Text;
using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Tests.Notifications;
using CanaryFlow.Controller.Tests.Rollouts;
using CanaryFlow.Controller.Triggers.Security;
using CanaryFlow.Analysis;
using static CanaryFlow.Controller.Tests.Hooks.HookedEngine;

namespace CanaryFlow.Controller.Tests.Hooks;

/// <summary>Hooks against a real HTTP receiver on 127.0.0.1, driving the real engine.</summary>
public sealed class HookRolloutTests
{
    [Fact]
    public async Task A_failing_pre_rollout_hook_rolls_back_before_any_traffic()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        receiver.Script("pre", new RecordingReceiver.Answer(412), new RecordingReceiver.Answer(412));
        await using var e = await StartAsync();
        await e.Request(Target, "v2", With(TestPlans.Steps(10, 100), Hook(HookTypes.PreRollout, receiver.UrlFor("pre"), "pre")));

        await e.Until(Target, s => s.CurrentState == RolloutPhases.Progressing && s.StepIndex == -1 && s.NextAnalysisAt != null, "pre-rollout check due");
        await e.Tick(TimeSpan.Zero);
        await e.Until(Target, s => s.FailedChecks == 1, "first failed pre-rollout check");
        await e.Tick();
        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rollback");

        Assert.DoesNotContain(e.World[Target].AppliedWeights, w => w > 0); // no traffic ever reached the canary
        Assert.Equal(2, receiver.For("pre").Count);
        Assert.Contains("hook pre", s.LastReason);
        Assert.Contains("412", s.LastReason);
        Assert.True(await e.Harness.Published.Any<HookCompleted>(x => x.Context.Message.Name == "pre" && x.Context.Message.Outcome == HookOutcomes.Failed));
    }

    [Fact]
    public async Task A_passing_pre_rollout_hook_lets_the_first_step_start()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var e = await StartAsync();
        await e.Request(Target, "v2", With(TestPlans.Steps(10, 100), Hook(HookTypes.PreRollout, receiver.UrlFor("pre"), "pre")));
        await e.Until(Target, s => s.StepIndex == -1 && s.NextAnalysisAt != null, "pre-rollout check due");
        Assert.Empty(e.World[Target].AppliedWeights);

        await e.Tick(TimeSpan.Zero);
        await e.At(10);
        Assert.Single(receiver.For("pre"));
    }

    [Fact]
    public async Task A_confirm_promotion_hook_holds_the_rollout_until_it_says_yes_and_every_call_is_signed()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        receiver.Script("confirm", new RecordingReceiver.Answer(403), new RecordingReceiver.Answer(403));
        await using var e = await StartAsync();
        await e.Request(Target, "v2", With(TestPlans.Steps(50, 100), Hook(HookTypes.ConfirmPromotion, receiver.UrlFor("confirm"), "confirm")));
        await e.At(50);
        await e.Tick(); await e.At(100);
        await e.Tick();
        await e.Gated(HookTypes.ConfirmPromotion);

        for (var no = 1; no <= 2; no++)
        {
            await e.Tick();
            await receiver.WaitUntilAsync(r => r.For("confirm").Count == no, $"{no} confirm calls");
            await Task.Delay(100); // a yes would have moved the saga by now
            Assert.Equal(RolloutPhases.WaitingApproval, (await e.Find(Target))!.CurrentState);
        }
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promotion after the yes");

        Assert.True(await e.Harness.Published.Any<PromoteRollout>(x => x.Context.Message.Actor == "hook:confirm"));
        Assert.Equal([50, 100, 0], e.World[Target].AppliedWeights);
        foreach (var call in receiver.For("confirm"))
        {
            var signed = Encoding.UTF8.GetBytes(call.Headers[SignedWebhookNotifier.TimestampHeader] + ".").Concat(Encoding.UTF8.GetBytes(call.Body)).ToArray();
            Assert.True(SecretComparer.HmacSha256HexMatches(call.Headers[SignedWebhookNotifier.SignatureHeader], "v1=", Secret, signed));
            using var body = JsonDocument.Parse(call.Body);
            Assert.Equal("confirm-promotion", body.RootElement.GetProperty("type").GetString());
            Assert.Equal("checkout", body.RootElement.GetProperty("name").GetString());
            Assert.Equal("smoke", body.RootElement.GetProperty("metadata").GetProperty("suite").GetString());
        }
    }

    [Fact]
    public async Task A_breach_while_a_confirm_hook_is_waiting_rolls_back_and_calls_the_rollback_and_post_rollout_hooks()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        receiver.Script("confirm", Enumerable.Repeat(new RecordingReceiver.Answer(403), 20).ToArray());
        await using var e = await StartAsync();
        await e.Request(Target, "v2", With(TestPlans.Steps(20, 40),
            Hook(HookTypes.ConfirmTrafficIncrease, receiver.UrlFor("confirm"), "confirm"),
            Hook(HookTypes.Rollback, receiver.UrlFor("rollback"), "rollback"),
            Hook(HookTypes.PostRollout, receiver.UrlFor("post"), "post"),
            Hook(HookTypes.Event, receiver.UrlFor("event"), "event")));
        await e.At(20);
        await e.Tick();
        await e.Gated(HookTypes.ConfirmTrafficIncrease);

        e.World[Target].Default = VerdictOutcome.Failed;
        await e.Tick(); // analysis fails once (limit 2) and the gate's hook says no again
        await e.Until(Target, s => s.FailedChecks == 1, "first failed check at the gate");
        await e.Tick();
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rollback from the gate");

        Assert.Equal([20, 0], e.World[Target].AppliedWeights);
        await receiver.WaitUntilAsync(r => r.For("rollback").Count == 1 && r.For("post").Count == 1, "rollback and post-rollout hooks");
        await receiver.WaitUntilAsync(r => r.For("event").Count >= 4, "event hooks on the transitions");
        Assert.Contains("\"phase\":\"RollingBack\"", receiver.For("rollback")[0].Body);
        Assert.Contains("\"phase\":\"Failed\"", receiver.For("post")[0].Body);
    }

    [Fact]
    public async Task The_post_rollout_hook_runs_for_a_promoted_rollout_even_when_a_queued_revision_starts_at_once()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var e = await StartAsync();
        var plan = With(TestPlans.Steps(50, 100), Hook(HookTypes.PostRollout, receiver.UrlFor("post"), "post"));
        var hold = e.World[Target].HoldPromotion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await e.Request(Target, "v2", plan);
            await e.At(50);
            await e.Tick(); await e.At(100);
            await e.Tick();
            await e.Until(Target, s => s.CurrentState == RolloutPhases.Promoting, "promoting v2");

            await e.Request(Target, "v3", plan); // queued behind the promotion
            await e.Until(Target, s => s.Queued != null, "v3 queued");
        }
        finally { hold.TrySetResult(); } // also when a wait above failed: the held promotion must not outlive the test
        await e.Until(Target, s => s.Revision == "v3", "v3 started as soon as v2 was promoted");

        await receiver.WaitUntilAsync(r => r.For("post").Count == 1, "the post-rollout hook of v2");
        using var body = JsonDocument.Parse(receiver.For("post")[0].Body);
        Assert.Equal(("Succeeded", "v2"), (body.RootElement.GetProperty("phase").GetString(), body.RootElement.GetProperty("revision").GetString()));
    }

    [Fact]
    public async Task An_unreachable_confirm_rollout_hook_keeps_all_traffic_on_stable_and_is_reported_unreachable()
    {
        await using var e = await StartAsync();
        await e.Request(Target, "v2", With(TestPlans.Steps(10, 100), Hook(HookTypes.ConfirmRollout, Unreachable(), "gate")));
        await e.Gated(HookTypes.ConfirmRollout);
        await e.Tick(TimeSpan.Zero);
        var saga = e.Harness.Published;
        Assert.True(await saga.Any<HookCompleted>(x => x.Context.Message.Name == "gate" && x.Context.Message.Outcome == HookOutcomes.Unreachable));
        await e.Tick();
        await Task.Delay(100);

        var s = (await e.Find(Target))!;
        Assert.Equal(RolloutPhases.WaitingApproval, s.CurrentState);
        Assert.Empty(e.World[Target].AppliedWeights);
        // A person can still decide: promote passes the gate, then traffic starts.
        await e.Publish(new PromoteRollout(s.CorrelationId, Target, "user:alice", "hook is down, checked by hand"));
        await e.At(10);
    }

    [Fact]
    public async Task An_unreachable_rollout_hook_fails_the_check()
    {
        await using var e = await StartAsync();
        await e.Request(Target, "v2", With(TestPlans.Steps(10, 100), Hook(HookTypes.Rollout, Unreachable(), "tests")));
        await e.At(10);
        await e.Tick();
        var s = await e.Until(Target, s => s.FailedChecks == 1, "failed check");
        Assert.Contains(s.LastEvidence!.Metrics, m => m.Name == "hook:tests" && m.Outcome == "fail");
        Assert.Equal([10], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task A_stale_yes_from_a_passed_gate_never_skips_steps()
    {
        await using var e = await StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50, 100));
        var s = await e.At(10);
        await e.Publish(new PromoteRollout(s.CorrelationId, Target, "hook:late", "yes", GateSequence: s.Sequence));
        await e.Consumed<PromoteRollout>(p => p.GateSequence == s.Sequence);
        Assert.Equal(RolloutPhases.Progressing, (await e.Find(Target))!.CurrentState);
        Assert.Equal([10], e.World[Target].AppliedWeights);
    }
}

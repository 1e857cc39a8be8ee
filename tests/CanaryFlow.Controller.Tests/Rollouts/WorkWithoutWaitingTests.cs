using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Sandbox.Simulation;
using MassTransit.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// Issue 15: a preparation (and a promotion) does not wait inside its message for the Deployment to become available;
/// the worker answers "applied, not yet", the ticker asks again, and the deadline counts from the first application.
/// </summary>
public sealed class WorkWithoutWaitingTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");
    private static readonly TimeSpan Recheck = new RolloutEngineOptions().RecheckAfter;

    [Fact]
    public async Task A_canary_that_becomes_available_later_is_asked_again_and_the_rollout_goes_on()
    {
        var world = new InMemoryWorld();
        world[Target].CanaryAvailableAfterAsks = 3;
        await using var e = await EngineUnderTest.StartAsync(world);
        await e.Request(Target, "v2", TestPlans.Steps(10, 100));

        var applied = await e.Until(Target, s => s.PendingAppliedAt != null, "the preparation applied");
        Assert.Equal(RolloutPhases.Initializing, applied.CurrentState);
        Assert.Contains("not available yet", applied.LastReason);
        for (var ask = 2; ask <= 4; ask++) // each tick past the longest wait between re-asks (they back off)
            await e.TickUntil(() => world[Target].PrepareAsks >= ask, 32 * Recheck, $"preparation asked {ask} times");

        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Progressing && s.AppliedWeight == 10, "canary at 10%");
        Assert.Null(s.PendingAppliedAt);
        Assert.Equal(4, world[Target].PrepareAsks);
    }

    [Fact]
    public async Task A_canary_never_available_fails_at_its_deadline_counted_from_the_application_not_from_the_queue()
    {
        var world = new InMemoryWorld();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        world[Target].CanaryAvailableAfterAsks = int.MaxValue;
        world[Target].RollOutWithin = TimeSpan.FromMinutes(5);
        // The first preparation sat 9 minutes in its partition's queue before a worker took it.
        var queued = true;
        world[Target].OnPrepare = () => { if (queued) clock.Advance(TimeSpan.FromMinutes(9)); queued = false; };
        await using var e = await EngineUnderTest.StartAsync(world, clock: clock);
        await e.Request(Target, "v2", TestPlans.Steps(10, 100) with { ProgressDeadline = TimeSpan.FromMinutes(5) });
        var appliedAt = (await e.Until(Target, s => s.PendingAppliedAt != null, "the preparation applied")).PendingAppliedAt!.Value;

        // 13 minutes after the request, 4 after the application: not past the deadline.
        await e.Tick(TimeSpan.FromMinutes(4));
        await e.Until(Target, _ => world[Target].PrepareAsks >= 2, "the preparation asked again");
        Assert.Equal(RolloutPhases.Initializing, (await e.Find(Target))!.CurrentState);

        // At the deadline the worker's answer says why (the tick's own deadline is a stall later, for when no answer comes).
        // The ticker asks again only once the last copy is recorded as taken, which the consume observer does after the
        // worker returns: tick (without moving the clock) until the rollout has failed, not just once.
        await e.Tick(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 100 && (await e.Find(Target))!.CurrentState != RolloutPhases.Failed; i++)
        {
            await Task.Delay(50);
            await e.Tick(TimeSpan.Zero);
        }
        var failed = await e.Until(Target, s => s.CurrentState == RolloutPhases.Failed, "rolled back");
        Assert.Contains("canary not ready", failed.LastReason);
        Assert.Contains($"applied at {appliedAt:u}", failed.LastReason);
        Assert.Equal(clock.GetUtcNow() - TimeSpan.FromMinutes(5), appliedAt);
        Assert.DoesNotContain(world[Target].AppliedWeights, w => w > 0);
    }

    [Fact]
    public async Task A_restarted_controller_resumes_a_preparation_from_when_it_was_applied()
    {
        var world = new InMemoryWorld();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        var dir = Directory.CreateTempSubdirectory("canaryflow-test-").FullName;
        world[Target].CanaryAvailableAfterAsks = 1;
        // The test harness cannot start a second bus after the first's services are disposed (its log context is static):
        // the first engine's bus is stopped, the rest of it disposed at the end; the second reads the folder as a new process would.
        await using var before = await EngineUnderTest.StartAsync(world, dir, clock);
        await before.Request(Target, "v2", TestPlans.Steps(10, 100));
        var appliedAt = (await before.Until(Target, s => s.PendingAppliedAt != null, "the preparation applied")).PendingAppliedAt!.Value;
        await before.Harness.Stop();

        clock.Advance(TimeSpan.FromMinutes(3));
        await using var after = await EngineUnderTest.StartAsync(world, dir, clock);
        await after.Tick(TimeSpan.FromMilliseconds(1));
        await after.Until(Target, s => s.CurrentState == RolloutPhases.Progressing && s.AppliedWeight == 10, "canary at 10% after the restart");
        var asked = after.Harness.Published.Select<PrepareCanary>().Select(x => x.Context.Message).ToList();
        Assert.Contains(asked, m => m.AppliedAt == appliedAt);
        Assert.Equal(2, world[Target].PrepareAsks);
    }

    [Fact]
    public async Task A_promotion_moves_no_traffic_to_stable_until_stable_is_available()
    {
        var world = new InMemoryWorld();
        world[Target].StableAvailableAfterAsks = 2;
        await using var e = await EngineUnderTest.StartAsync(world);
        await e.Request(Target, "v2", TestPlans.Steps(100));
        await e.Until(Target, s => s.AppliedWeight == 100 && s.NextAnalysisAt != null, "canary at 100%");
        await e.Tick();

        var promoting = await e.Until(Target, s => s.CurrentState == RolloutPhases.Promoting && s.PendingAppliedAt != null, "promotion applied");
        Assert.Equal(100, world[Target].CanaryWeight);
        Assert.Contains("stable not available yet", promoting.LastReason);
        await e.Tick(Recheck);
        await e.Until(Target, _ => world[Target].PromoteAsks >= 2, "promotion asked again");
        Assert.Equal(100, world[Target].CanaryWeight);

        await e.Tick(Recheck);
        await e.Until(Target, s => s.CurrentState == RolloutPhases.Succeeded, "promoted");
        Assert.Equal([100, 0], world[Target].AppliedWeights);
        Assert.Equal("v2", world[Target].StableRevision);
    }
}

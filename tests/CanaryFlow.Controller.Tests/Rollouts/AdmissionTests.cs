using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>Rollouts:MaxActive: at most that many rollouts run at once, the others wait in phase Queued, first come first served.</summary>
public sealed class AdmissionTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly RolloutEngineOptions TwoAtATime = new() { StallAfter = TimeSpan.FromSeconds(30), MaxActive = 2 };
    private static readonly Dictionary<string, string?> OneAtATime = new() { ["Rollouts:MaxActive"] = "1" };

    private static RolloutState InPhase(string phase, int requestedSecondsAgo, long sequence = 3) => new()
    {
        CorrelationId = Guid.NewGuid(), CurrentState = phase, Plan = TestPlans.TenToHundred, Sequence = sequence,
        StartedAt = Start.AddSeconds(-requestedSecondsAgo), LastProgressAt = Start,
    };

    private static List<AdmitRollout> Admissions(TickPolicy policy, IReadOnlyList<RolloutState> states, DateTimeOffset now)
    {
        var due = new List<object>();
        policy.AddAdmissions(states, now, due);
        return due.OfType<AdmitRollout>().ToList();
    }

    [Fact]
    public void The_longest_waiting_queued_rollouts_are_admitted_into_the_free_slots_only()
    {
        var running = InPhase(RolloutPhases.Progressing, 100);
        var done = InPhase(RolloutPhases.Succeeded, 200);
        var newest = InPhase(RolloutPhases.Queued, 5);
        var oldest = InPhase(RolloutPhases.Queued, 50);
        var middle = InPhase(RolloutPhases.Queued, 20);
        var policy = new TickPolicy(TwoAtATime, Start);

        var admitted = Assert.Single(Admissions(policy, [running, done, newest, oldest, middle], Start));
        Assert.Equal(oldest.CorrelationId, admitted.CorrelationId);
        Assert.Equal(oldest.Sequence, admitted.Sequence);

        // Its answer not stored yet, the admitted one holds its slot: the next tick gives it to nobody else.
        Assert.Empty(Admissions(policy, [running, done, newest, oldest, middle], Start.AddSeconds(1)));

        // The running one finished and the admitted one is preparing: one slot again, for the next in line.
        running.CurrentState = RolloutPhases.Succeeded;
        oldest.CurrentState = RolloutPhases.Initializing;
        oldest.Sequence++;
        var next = Assert.Single(Admissions(policy, [running, done, newest, oldest, middle], Start.AddSeconds(2)));
        Assert.Equal(middle.CorrelationId, next.CorrelationId);
    }

    [Fact]
    public void Without_a_limit_nothing_is_admitted_by_the_ticker()
    {
        var policy = new TickPolicy(new RolloutEngineOptions(), Start);
        Assert.Empty(Admissions(policy, [InPhase(RolloutPhases.Queued, 5)], Start));
    }

    [Fact]
    public void An_admission_taken_without_effect_is_sent_again_after_the_stall_time_and_one_still_queued_is_not()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Start);
        var taken = new AsksTaken(clock);
        var queued = InPhase(RolloutPhases.Queued, 5);
        var policy = new TickPolicy(TwoAtATime, Start, taken);
        Assert.Single(Admissions(policy, [queued], Start));

        // Not yet taken (a backed-up queue): no second copy, however long, within ResendUntakenAfter.
        clock.SetUtcNow(Start.AddSeconds(90));
        Assert.Empty(Admissions(policy, [queued], clock.GetUtcNow()));

        // Taken, and the rollout still queued with the same sequence: asked again.
        taken.Consumed(new AdmitRollout(queued.CorrelationId, queued.Sequence, Start));
        clock.SetUtcNow(Start.AddSeconds(91));
        Assert.Single(Admissions(policy, [queued], clock.GetUtcNow()));
    }

    [Fact]
    public async Task A_rollout_requested_while_the_slots_are_taken_waits_queued_asking_nothing_and_starts_when_one_frees()
    {
        var first = new RolloutTarget("shop", "checkout");
        var second = new RolloutTarget("shop", "cart");
        await using var e = await EngineUnderTest.StartAsync(settings: OneAtATime);
        await e.Request(first, "v2", TestPlans.Steps(50));
        await e.Until(first, s => s.CurrentState == RolloutPhases.Queued, "first queued until the ticker admits it");
        await e.Tick(TimeSpan.FromSeconds(1));
        await e.Until(first, s => s.AppliedWeight == 50 && s.Pending == null, "first at 50%");

        await e.Request(second, "v2", TestPlans.Steps(50));
        var waiting = await e.Until(second, s => s.CurrentState == RolloutPhases.Queued, "second queued");
        Assert.Null(waiting.Pending);
        await e.Tick(TimeSpan.FromSeconds(1));
        Assert.Equal(RolloutPhases.Queued, (await e.Find(second))!.CurrentState);
        Assert.False(await e.Harness.Published.Any<PrepareCanary>(x => x.Context.Message.Target == second));
        Assert.Empty(e.World[second].AppliedWeights);

        // The first one's check passes and it is promoted: its slot goes to the second. (Checks fall on a 10 s grid, and
        // the weight was set a second past one: its check is due 70 s after.)
        await e.Tick(TimeSpan.FromSeconds(70));
        await e.Until(first, s => s.CurrentState == RolloutPhases.Succeeded, "first promoted");
        await e.Tick(TimeSpan.FromSeconds(1));
        await e.Until(second, s => s.AppliedWeight == 50 && s.Pending == null, "second at 50% once the first is done");
        await e.Tick(TimeSpan.FromSeconds(70));
        await e.Until(second, s => s.CurrentState == RolloutPhases.Succeeded, "second promoted");
        Assert.Equal([50, 0], e.World[second].AppliedWeights);
        Assert.True(await e.Harness.Published.Any<RolloutTransitioned>(x => x.Context.Message.Target == second && x.Context.Message.Phase == RolloutPhases.Queued));
    }

    [Fact]
    public async Task A_queued_rollout_aborted_ends_failed_without_touching_its_canary_and_a_stale_admission_starts_nothing()
    {
        var target = new RolloutTarget("shop", "checkout");
        var id = RolloutIds.ForTarget(target);
        await using var e = await EngineUnderTest.StartAsync(settings: OneAtATime);
        await e.Request(target, "v2", TestPlans.Steps(50));
        var queued = await e.Until(target, s => s.CurrentState == RolloutPhases.Queued, "queued");

        await e.Publish(new AdmitRollout(id, queued.Sequence - 1, Start));
        await e.Consumed<AdmitRollout>(m => m.Sequence == queued.Sequence - 1);
        Assert.Equal(RolloutPhases.Queued, (await e.Find(target))!.CurrentState);

        await e.Publish(new AbortRollout(id, target, "user:alice", "wrong image"));
        var failed = await e.Until(target, s => s.CurrentState == RolloutPhases.Failed, "aborted");
        Assert.Contains("before it started", failed.LastReason);
        Assert.Empty(e.World[target].AppliedWeights);
        Assert.False(await e.Harness.Published.Any<RollBackCanary>(x => x.Context.Message.CorrelationId == id));
    }

    [Fact]
    public async Task A_newer_revision_of_a_queued_rollout_takes_its_place_in_the_queue()
    {
        var target = new RolloutTarget("shop", "checkout");
        await using var e = await EngineUnderTest.StartAsync(settings: OneAtATime);
        await e.Request(target, "v2", TestPlans.Steps(50));
        var v2 = await e.Until(target, s => s.CurrentState == RolloutPhases.Queued, "v2 queued");
        e.Clock.Advance(TimeSpan.FromSeconds(5));
        await e.Request(target, "v3", TestPlans.Steps(50));
        var v3 = await e.Until(target, s => s.Revision == "v3", "v3 in v2's place");
        Assert.Equal(RolloutPhases.Queued, v3.CurrentState);
        Assert.Equal(v2.StartedAt, v3.StartedAt);
        Assert.True(v3.Sequence > v2.Sequence);
    }
}

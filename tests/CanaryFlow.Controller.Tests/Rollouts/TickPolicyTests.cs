using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Rollouts;

public sealed class TickPolicyTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly RolloutEngineOptions Options = new() { StallAfter = TimeSpan.FromSeconds(30) };

    private static RolloutState Waiting(string pending, DateTimeOffset since) => new()
    {
        CorrelationId = Guid.NewGuid(),
        CurrentState = RolloutPhases.Progressing,
        Plan = TestPlans.TenToHundred,
        Sequence = 7,
        Pending = pending,
        PendingSince = since,
        LastProgressAt = since,
    };

    [Fact]
    public void A_command_sent_before_this_process_started_is_sent_again_at_once()
    {
        var policy = new TickPolicy(Options, startedAt: Start);
        var state = Waiting(PendingWork.Weight, since: Start.AddSeconds(-5));
        var due = policy.Due(state, Start.AddMilliseconds(100)).ToList();
        Assert.Single(due.OfType<RolloutStalled>());
    }

    [Fact]
    public void A_command_sent_by_this_process_is_not_repeated_before_it_stalls()
    {
        var policy = new TickPolicy(Options, startedAt: Start);
        var state = Waiting(PendingWork.Weight, since: Start.AddSeconds(1));
        Assert.Empty(policy.Due(state, Start.AddSeconds(20)).OfType<RolloutStalled>());
        Assert.Single(policy.Due(state, Start.AddSeconds(31)).OfType<RolloutStalled>());
    }

    [Fact]
    public void Repeats_of_a_stalled_command_back_off_so_slow_work_does_not_pile_up()
    {
        var policy = new TickPolicy(Options, startedAt: Start);
        var state = Waiting(PendingWork.Prepare, since: Start.AddSeconds(1));
        var sentAt = new List<int>();
        for (var second = 0; second <= 600; second++)
            if (policy.Due(state, Start.AddSeconds(second)).OfType<RolloutStalled>().Any()) sentAt.Add(second);
        // 31 s, then 30 s, 60 s, 120 s, 240 s later: each wait twice the last.
        Assert.Equal([31, 61, 121, 241, 481], sentAt);
    }

    [Fact]
    public void After_a_restart_the_next_check_is_due_at_the_last_check_plus_the_interval()
    {
        var lastDue = Start.AddSeconds(-40);
        var state = new RolloutState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.Progressing, Plan = TestPlans.TenToHundred,
            AnalysisSequence = 3, NextAnalysisAt = lastDue + TestPlans.Interval, LastProgressAt = Start,
        };
        var policy = new TickPolicy(Options, startedAt: Start);
        Assert.Empty(policy.Due(state, Start.AddSeconds(19)).OfType<AnalysisDue>());
        var due = Assert.Single(policy.Due(state, Start.AddSeconds(20)).OfType<AnalysisDue>());
        Assert.Equal(lastDue + TestPlans.Interval, due.DueAt);
        Assert.Equal(3, due.Sequence);
    }

    [Fact]
    public void A_confirm_gate_asks_its_hooks_at_once_then_once_per_interval_until_the_gate_is_left()
    {
        var hook = new HookSpec("approve", HookTypes.ConfirmPromotion, "http://127.0.0.1:1/approve", TimeSpan.FromSeconds(1));
        var state = new RolloutState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.WaitingApproval, Plan = TestPlans.TenToHundred with { Hooks = [hook] },
            Gate = HookTypes.ConfirmPromotion, Sequence = 9, LastProgressAt = Start,
        };
        var policy = new TickPolicy(Options, startedAt: Start);
        var asked = new List<int>();
        for (var second = 0; second <= 150; second++)
            foreach (var due in policy.Due(state, Start.AddSeconds(second)).OfType<HooksDue>())
            {
                Assert.Equal((HookTypes.ConfirmPromotion, 9L, "approve"), (due.Type, due.Sequence, Assert.Single(due.Hooks).Name));
                asked.Add(second);
            }
        Assert.Equal([0, 60, 120], asked);

        state.Gate = null; // a person's gate: no hook is asked
        Assert.Empty(new TickPolicy(Options, Start).Due(state, Start).OfType<HooksDue>());
    }

    [Fact]
    public void An_unanswered_check_is_asked_again_after_the_interval_then_after_twice_as_long_each_time()
    {
        var state = new RolloutState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.Progressing, Plan = TestPlans.TenToHundred,
            AnalysisSequence = 4, NextAnalysisAt = Start, LastProgressAt = Start,
        };
        var policy = new TickPolicy(Options, startedAt: Start);
        var asked = new List<int>();
        for (var second = 0; second < 900; second++)
            foreach (var due in policy.Due(state, Start.AddSeconds(second)).OfType<AnalysisDue>())
            {
                Assert.Equal(4, due.Sequence); // the same check each time: its answer ends the repeats
                asked.Add(second);
            }
        // The interval is 60 s: asked at once, then 60, 120 and 240 s after the last time (and 480 s later, at 900).
        Assert.Equal([0, 60, 180, 420], asked);

        state.AnalysisSequence = 5; // answered: the next check is asked at once, with a wait of one interval again
        state.NextAnalysisAt = Start.AddSeconds(900);
        Assert.Single(policy.Due(state, Start.AddSeconds(900)).OfType<AnalysisDue>());
        Assert.Empty(policy.Due(state, Start.AddSeconds(959)).OfType<AnalysisDue>());
        Assert.Single(policy.Due(state, Start.AddSeconds(960)).OfType<AnalysisDue>());
    }

    [Fact]
    public void An_applied_preparation_is_asked_again_with_back_off_instead_of_stall_re_sends()
    {
        var options = new RolloutEngineOptions { StallAfter = TimeSpan.FromSeconds(30), RecheckAfter = TimeSpan.FromSeconds(2) };
        var state = Waiting(PendingWork.Prepare, since: Start);
        state.CurrentState = RolloutPhases.Initializing;
        state.PendingAppliedAt = Start.AddSeconds(1);
        var policy = new TickPolicy(options, startedAt: Start);
        var asked = new List<int>();
        for (var second = 0; second <= 64; second++)
        {
            var due = policy.Due(state, Start.AddSeconds(second));
            Assert.Empty(due.OfType<RolloutStalled>());
            foreach (var prepare in due.OfType<PrepareCanary>())
            {
                Assert.Equal((7L, state.PendingAppliedAt), (prepare.Sequence, prepare.AppliedAt)); // its deadline counts from then
                asked.Add(second);
            }
        }
        // At once, then 2, 4, 8, 16 and 32 s after the last time: a re-ask waiting in a backed-up queue gets few copies.
        Assert.Equal([0, 2, 6, 14, 30, 62], asked);
    }

    [Fact]
    public void A_preparation_has_no_deadline_while_queued_and_one_counted_from_its_application_once_applied()
    {
        var state = Waiting(PendingWork.Prepare, since: Start);
        state.CurrentState = RolloutPhases.Initializing;
        state.LastProgressAt = Start.AddHours(-2); // requested long ago; the command waited in a queue since
        var policy = new TickPolicy(Options, startedAt: Start);
        Assert.Empty(policy.Due(state, Start).OfType<ProgressDeadlineExceeded>());

        state.PendingAppliedAt = Start;
        var deadline = TestPlans.TenToHundred.ProgressDeadline;
        // The worker's own answer at the deadline says why; the tick's is a stall later, for when no answer comes.
        Assert.Empty(policy.Due(state, Start + deadline + TimeSpan.FromSeconds(29)).OfType<ProgressDeadlineExceeded>());
        Assert.Single(policy.Due(state, Start + deadline + TimeSpan.FromSeconds(30)).OfType<ProgressDeadlineExceeded>());
    }

    [Fact]
    public void A_hold_for_a_metrics_outage_stops_the_progress_deadline_and_its_time_is_not_counted_after()
    {
        var plan = TestPlans.TenToHundred with
        {
            ProgressDeadline = TimeSpan.FromMinutes(5),
            Analysis = TestPlans.TenToHundred.Analysis with
            {
                Sequential = new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), MetricsOutageDeadline: TimeSpan.FromMinutes(10)),
            },
        };
        var state = new RolloutState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.Progressing, Plan = plan, LastProgressAt = Start,
            MetricsDownSince = Start.AddMinutes(1),
        };
        var policy = new TickPolicy(Options, startedAt: Start);
        // Held for 8 minutes: past the 5 min progress deadline, inside the 10 min outage deadline.
        Assert.Empty(policy.Due(state, Start.AddMinutes(9)).OfType<ProgressDeadlineExceeded>());

        state.EndHold(Start.AddMinutes(9));
        // The 8 minutes held are not counted: 1 min before the hold, so the deadline is 4 min after it ends.
        Assert.Empty(policy.Due(state, Start.AddMinutes(12)).OfType<ProgressDeadlineExceeded>());
        Assert.Single(policy.Due(state, Start.AddMinutes(13)).OfType<ProgressDeadlineExceeded>());
    }
    [Fact]
    public void A_fixed_window_hold_gets_a_whole_progress_deadline_from_its_start_and_its_time_is_not_counted_after()
    {
        var plan = TestPlans.TenToHundred with { ProgressDeadline = TimeSpan.FromMinutes(5) }; // fixed-window: no sequential spec
        var state = new RolloutState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.Progressing, Plan = plan, LastProgressAt = Start,
            MetricsDownSince = Start.AddMinutes(4),
        };
        var policy = new TickPolicy(Options, startedAt: Start);
        // 4 min into the step the metrics source stops answering: the step's 5 min deadline would fall 1 min into the
        // outage; the hold instead gets 5 min of its own.
        Assert.Empty(policy.Due(state, Start.AddMinutes(8.9)).OfType<ProgressDeadlineExceeded>());
        Assert.Single(policy.Due(state, Start.AddMinutes(9)).OfType<ProgressDeadlineExceeded>());

        var answered = new RolloutState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.Progressing, Plan = plan, LastProgressAt = Start,
            MetricsDownSince = Start.AddMinutes(4),
        };
        answered.EndHold(Start.AddMinutes(7));
        // Answered after 3 min held: 4 min of the step were used before the hold, so 1 min is left after it.
        Assert.Empty(policy.Due(answered, Start.AddMinutes(7.9)).OfType<ProgressDeadlineExceeded>());
        Assert.Single(policy.Due(answered, Start.AddMinutes(8)).OfType<ProgressDeadlineExceeded>());
    }
    [Fact]
    public void A_re_ask_whose_last_copy_is_still_queued_waits_until_this_process_has_taken_it()
    {
        var clock = new FakeTimeProvider(Start);
        var taken = new AsksTaken(clock);
        var options = new RolloutEngineOptions { StallAfter = TimeSpan.FromSeconds(30), RecheckAfter = TimeSpan.FromSeconds(2), ResendUntakenAfter = TimeSpan.FromMinutes(5) };
        var state = Waiting(PendingWork.Prepare, since: Start);
        state.CurrentState = RolloutPhases.Initializing;
        state.PendingAppliedAt = Start;
        var policy = new TickPolicy(options, startedAt: Start.AddSeconds(-1), taken);
        var asked = new List<int>();
        for (var second = 0; second <= 701; second++)
        {
            clock.SetUtcNow(Start.AddSeconds(second));
            if (policy.Due(state, clock.GetUtcNow()).OfType<PrepareCanary>().Any()) asked.Add(second);
            if (second == 100) taken.Consumed(state.PrepareCommand()); // the first copy leaves the queue, answered "not yet"
        }
        // Asked at once; not again while that copy is queued (the back-off alone would have asked at 2, 6, 14, 30 and 62 s);
        // again at the first tick after it was taken; that copy is never taken, so once more 5 minutes later, and again.
        Assert.Equal([0, 101, 401, 701], asked);
    }

    [Fact]
    public void A_command_still_queued_is_not_reported_stalled_and_one_taken_without_an_answer_is()
    {
        var clock = new FakeTimeProvider(Start);
        var taken = new AsksTaken(clock);
        var options = new RolloutEngineOptions { StallAfter = TimeSpan.FromSeconds(30), ResendUntakenAfter = TimeSpan.FromMinutes(5) };
        var queued = Waiting(PendingWork.Weight, since: Start.AddSeconds(1));
        var lost = Waiting(PendingWork.Weight, since: Start.AddSeconds(1));
        var policy = new TickPolicy(options, startedAt: Start, taken);
        var stalled = new Dictionary<Guid, List<int>> { [queued.CorrelationId] = [], [lost.CorrelationId] = [] };
        for (var second = 0; second <= 320; second++)
        {
            clock.SetUtcNow(Start.AddSeconds(second));
            if (second == 5) taken.Consumed(new SetCanaryWeight(lost.CorrelationId, lost.RolloutId, lost.Target, 20, lost.Sequence));
            foreach (var s in new[] { queued, lost })
                if (policy.Due(s, clock.GetUtcNow()).OfType<RolloutStalled>().Any()) stalled[s.CorrelationId].Add(second);
        }
        Assert.Equal([31], stalled[lost.CorrelationId]); // taken at 5 s, no answer by 31 s; its re-sent copy is never taken
        Assert.Equal([301], stalled[queued.CorrelationId]); // behind a long queue: once, when it may have been lost
    }

    [Fact]
    public void The_ledger_forgets_rollouts_the_ticker_no_longer_watches_after_a_minute()
    {
        var clock = new FakeTimeProvider(Start);
        var taken = new AsksTaken(clock);
        var watched = Guid.NewGuid();
        var atRest = Guid.NewGuid();
        taken.Consumed(new ProgressDeadlineExceeded(watched, Start));
        taken.Consumed(new ProgressDeadlineExceeded(atRest, Start));
        taken.Consumed(new RolloutStalled(atRest, 3, Start)); // not an ask the ledger keeps: the stall's command is
        Assert.Equal(2, taken.Count);

        taken.Retain(new HashSet<Guid> { watched });
        Assert.Equal(2, taken.Count); // a command may be taken before its new rollout is stored: kept for a minute
        clock.Advance(TimeSpan.FromSeconds(61));
        taken.Retain(new HashSet<Guid> { watched });
        Assert.Equal(1, taken.Count);
        Assert.True(taken.TakenSince(watched, AskKind.Deadline, Start));
    }
    [Fact]
    public void Sharded_a_copy_is_still_queued_until_its_partition_passes_it_however_long_a_moving_queue_takes()
    {
        var clock = new FakeTimeProvider(Start);
        var taken = new AsksTaken(clock, partitions: 4);
        var id = Guid.NewGuid();
        var partition = CanaryFlow.Controller.Hosting.Sharding.RolloutPartitions.Of(id, 4);
        var other = (partition + 1) % 4;
        var sent = Start;
        var giveUp = TimeSpan.FromMinutes(5);
        bool Queued() => taken.StillQueued(id, AskKind.Command, sent, clock.GetUtcNow(), giveUp);

        // A deep queue that moves: messages sent before the copy are taken for 10 minutes; the copy is still in front.
        for (var minute = 1; minute <= 10; minute++)
        {
            clock.SetUtcNow(Start.AddMinutes(minute));
            taken.Drained(partition, (sent - TimeSpan.FromSeconds(11 - minute)).UtcDateTime);
            taken.Drained(other, clock.GetUtcNow().UtcDateTime); // another partition's traffic says nothing of this one
            Assert.True(Queued(), $"minute {minute}");
        }
        // A message sent 2 s after the copy is taken: the copy has left the queue (taken elsewhere, or lost).
        taken.Drained(partition, (sent + TimeSpan.FromSeconds(2)).UtcDateTime);
        Assert.False(Queued());

        // A queue that stops moving: the next copy is presumed lost 5 minutes after the later of its sending and the last move.
        sent = clock.GetUtcNow();
        clock.Advance(TimeSpan.FromMinutes(4));
        taken.Drained(partition, (sent - TimeSpan.FromSeconds(1)).UtcDateTime); // moved at 4 min, not past the copy
        clock.Advance(TimeSpan.FromMinutes(4));
        Assert.True(Queued()); // 8 min after sending, 4 after the last move
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.False(Queued());
    }
}

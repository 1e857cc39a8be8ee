using System.Collections.Concurrent;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using Microsoft.Extensions.DependencyInjection;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>The saga in sequential mode: checks every tick, a rejection rolls back at once, an outage holds.</summary>
public sealed class SequentialRolloutTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);

    private static RolloutPlan Plan(TimeSpan? outageDeadline = null, TimeSpan? firstLook = null) => TestPlans.Steps(10, 20) with
    {
        ErrorLimit = 3,
        InconclusiveLimit = 3,
        Analysis = new AnalysisSpec(10, [], null, new SequentialSpec(0.05, 0.1, Tick, outageDeadline ?? TimeSpan.FromMinutes(10), firstLook)),
    };

    /// <summary>Answers each tick with <see cref="Next"/>; the running state it returns counts the ticks it saw.</summary>
    private sealed class ScriptedRunner : ISequentialAnalysisRunner
    {
        public volatile VerdictOutcome Next = VerdictOutcome.NoData;
        public volatile bool Decisive;
        /// <summary>Answers no-decision verdicts as the runner does for a step held on strong evidence.</summary>
        public volatile bool Held;
        public ConcurrentQueue<AnalysisDue> Dues { get; } = new();

        public Task<SequentialVerdict> RunAsync(AnalysisDue due, CancellationToken cancellationToken)
        {
            Dues.Enqueue(due);
            var state = Next == VerdictOutcome.QueryError ? due.SequentialState : $"ticks {Dues.Count}";
            var evidence = Held && Next == VerdictOutcome.NoData
                ? new AnalysisEvidence("Held: step held: scripted error-rate e=12", [new MetricResult(SequentialAnalysisRunner.HoldMetric, 12, null, 10, "hold")])
                : new AnalysisEvidence($"{Next}: scripted error-rate test", []);
            return Task.FromResult(new SequentialVerdict(Next, evidence, state, Decisive));
        }
    }

    private static async Task<(EngineUnderTest, ScriptedRunner)> StartAsync()
    {
        var runner = new ScriptedRunner();
        var e = await EngineUnderTest.StartAsync(extra: (services, _) => services.AddSingleton<ISequentialAnalysisRunner>(runner));
        return (e, runner);
    }

    /// <summary>One tick, then wait until its check has been recorded (or the rollout left its steps).</summary>
    private static async Task TickAndWait(EngineUnderTest e, TimeSpan? advance = null)
    {
        var before = (await e.Find(Target))!.AnalysisSequence;
        await e.Tick(advance ?? Tick);
        await e.Until(Target, x => x.AnalysisSequence > before || x.CurrentState != RolloutPhases.Progressing, "the tick's check");
    }

    private static Task<RolloutState> AtTen(EngineUnderTest e) =>
        e.Until(Target, s => s.AppliedWeight == 10 && s.Pending == null && s.NextAnalysisAt != null, "canary at 10%");

    [Fact]
    public async Task Checks_come_every_tick_and_carry_the_running_evidence_and_the_step_start()
    {
        var (e, runner) = await StartAsync();
        await using var _ = e;
        await e.Request(Target, "v2", Plan());
        var s = await AtTen(e);
        Assert.Equal(s.StepStartedAt! + Tick, s.NextAnalysisAt);

        for (var i = 1; i <= 3; i++)
        {
            await e.Tick(Tick);
            await e.Until(Target, x => x.SequentialEvidence == $"ticks {i}", $"evidence after tick {i}");
        }
        var dues = runner.Dues.ToArray();
        Assert.Null(dues[0].SequentialState);
        Assert.Equal("ticks 2", dues[2].SequentialState);
        Assert.All(dues, d => Assert.Equal(s.StepStartedAt, d.StepStartedAt));
        s = (await e.Find(Target))!;
        Assert.Equal((10, 0, 0), (s.AppliedWeight, s.FailedChecks, s.ConsecutiveNoData)); // accumulating is no strike
    }

    [Fact]
    public async Task With_a_first_look_the_baseline_is_read_at_once_and_every_step_is_looked_at_early_then_on_the_shared_tick_grid()
    {
        var (e, runner) = await StartAsync();
        await using var _ = e;
        var look = TimeSpan.FromSeconds(2);
        await e.Request(Target, "v2", Plan(firstLook: look));
        var s = await AtTen(e);
        var start = s.StepStartedAt!.Value; // the test clock starts on a point of both grids (12:00:00)
        Assert.Equal(start, s.NextAnalysisAt); // no evidence yet: the baseline, due at once
        await TickAndWait(e, TimeSpan.Zero);
        Assert.Equal(start + look, (await e.Find(Target))!.NextAnalysisAt); // the early look
        await TickAndWait(e, look);
        Assert.Equal(start + Tick, (await e.Find(Target))!.NextAnalysisAt); // back on the tick grid: 5 s, not 2 + 5
        await TickAndWait(e, Tick - look);
        Assert.Equal(start + 2 * Tick, (await e.Find(Target))!.NextAnalysisAt);

        runner.Next = VerdictOutcome.Passed;
        await e.Tick(Tick + TimeSpan.FromSeconds(0.5)); // answered half a second late: the step starts off the grid
        s = await e.Until(Target, x => x.AppliedWeight == 20 && x.Pending == null && x.NextAnalysisAt != null, "canary at 20%");
        Assert.Equal(start + TimeSpan.FromSeconds(14), s.NextAnalysisAt); // evidence kept: the early look, the first 2 s point ≥ 12.5 s
        Assert.Equal([0.0, 2, 5, 10], runner.Dues.Take(4).Select(d => (d.DueAt - start).TotalSeconds));
    }

    [Fact]
    public async Task A_sequential_rejection_rolls_back_at_the_first_failed_check_whatever_the_failure_limit()
    {
        var (e, runner) = await StartAsync();
        await using var _ = e;
        await e.Request(Target, "v2", Plan());
        await AtTen(e);
        runner.Next = VerdictOutcome.Failed;
        runner.Decisive = true;
        await e.Tick(Tick);
        var s = await e.Until(Target, x => x.CurrentState == RolloutPhases.Failed, "rollback");
        Assert.Equal(1, s.FailedChecks); // the failure limit is 2
        Assert.Contains("scripted error-rate test", s.LastReason);
        Assert.Equal([10, 0], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task A_metrics_outage_holds_the_weight_past_the_error_limit_and_the_rollout_resumes_when_prometheus_answers()
    {
        var (e, runner) = await StartAsync();
        await using var _ = e;
        await e.Request(Target, "v2", Plan());
        await AtTen(e);
        runner.Next = VerdictOutcome.QueryError;
        for (var i = 0; i < 8; i++) await TickAndWait(e); // 40 s down, errorLimit 3 and inconclusiveLimit 3
        var held = await e.Until(Target, x => x.MetricsDownSince != null && x.LastAnalysisAt >= x.MetricsDownSince + 5 * Tick, "a held rollout");
        Assert.Equal((RolloutPhases.Progressing, 10), (held.CurrentState, held.AppliedWeight));
        Assert.Contains("holding at 10%", held.LastReason);
        Assert.True(await e.Harness.Published.Any<RolloutTransitioned>(x => x.Context.Message.Reason.Contains("holding at 10%")));

        runner.Next = VerdictOutcome.Passed;
        await e.Tick(Tick);
        var resumed = await e.Until(Target, x => x.AppliedWeight == 20, "the next step once Prometheus answers");
        Assert.Null(resumed.MetricsDownSince);
        Assert.Equal([10, 20], e.World[Target].AppliedWeights);
    }

    [Fact]
    public async Task A_step_held_on_strong_evidence_keeps_its_weight_and_is_announced_once_with_its_reason()
    {
        var (e, runner) = await StartAsync();
        await using var _ = e;
        await e.Request(Target, "v2", Plan());
        await AtTen(e);
        runner.Held = true;
        for (var i = 0; i < 3; i++) await TickAndWait(e);

        var held = (await e.Find(Target))!;
        Assert.Equal((RolloutPhases.Progressing, 10, 0), (held.CurrentState, held.AppliedWeight, held.FailedChecks));
        Assert.StartsWith("step held at 10%: Held: step held: scripted error-rate e=12", held.LastReason);
        Assert.True(held.LastTransitionAt < held.LastAnalysisAt, "the hold was noted again at a later tick");
        await e.Until(Target, _ => e.Harness.Published.Select<RolloutTransitioned>().Any(x => x.Context.Message.Reason.StartsWith("step held at 10%")), "the announcement");
        Assert.Single(e.Harness.Published.Select<RolloutTransitioned>(), x => x.Context.Message.Reason.StartsWith("step held at 10%"));

        runner.Held = false;
        runner.Next = VerdictOutcome.Passed;
        await e.Tick(Tick);
        await e.Until(Target, x => x.AppliedWeight == 20, "the next step once the hold ends");
    }

    [Fact]
    public async Task A_hold_ended_by_a_failing_check_is_announced_as_over_before_the_rollback()
    {
        var (e, runner) = await StartAsync();
        await using var _ = e;
        await e.Request(Target, "v2", Plan());
        await AtTen(e);
        runner.Next = VerdictOutcome.QueryError;
        for (var i = 0; i < 2; i++) await TickAndWait(e);
        await e.Until(Target, x => x.MetricsDownSince != null, "a held rollout");

        runner.Next = VerdictOutcome.Failed;
        runner.Decisive = true;
        await e.Tick(Tick);
        await e.Until(Target, x => x.CurrentState == RolloutPhases.Failed, "rollback");
        var said = e.Harness.Published.Select<RolloutTransitioned>().Select(x => x.Context.Message).OrderBy(t => t.Version).ToList();
        var over = said.FindIndex(t => t.Reason.Contains("answers again"));
        var rollingBack = said.FindIndex(t => t.Phase == RolloutPhases.RollingBack);
        Assert.True(over >= 0, "the end of the hold was not announced: " + string.Join(" | ", said.Select(t => t.Reason)));
        Assert.True(over < rollingBack, "the end of the hold came after the rollback");
        Assert.Null(said[over].HoldingSince);
    }

    [Fact]
    public async Task An_outage_past_the_metrics_outage_deadline_rolls_back_and_says_why()
    {
        var (e, runner) = await StartAsync();
        await using var _ = e;
        await e.Request(Target, "v2", Plan(outageDeadline: TimeSpan.FromSeconds(30)));
        await AtTen(e);
        runner.Next = VerdictOutcome.QueryError;
        for (var i = 0; i < 9; i++) await TickAndWait(e);
        var s = await e.Until(Target, x => x.CurrentState == RolloutPhases.Failed, "rollback after the outage deadline");
        Assert.Contains("past the metrics outage deadline", s.LastReason);
    }
}

using System.Collections.Concurrent;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hooks;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Tests.Notifications;
using CanaryFlow.Controller.Tests.Rollouts;
using Microsoft.Extensions.DependencyInjection;
using static CanaryFlow.Controller.Tests.Hooks.HookedEngine;

namespace CanaryFlow.Controller.Tests.Hooks;

/// <summary>Rollout hooks in sequential mode: a real HTTP receiver on 127.0.0.1, the real engine checking every tick.</summary>
public sealed class SequentialHookTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    private static RolloutPlan Plan(string url) => With(TestPlans.Steps(10, 20) with
    {
        AnalysisInterval = Interval,
        Analysis = new AnalysisSpec(10, [], null, new SequentialSpec(0.05, 0.1, Tick, TimeSpan.FromMinutes(10))),
    }, Hook(HookTypes.Rollout, url, "tests"));

    /// <summary>Never decides (accumulating); its running state counts the ticks it saw.</summary>
    private sealed class AccumulatingRunner : ISequentialAnalysisRunner
    {
        private int _ticks;
        public Task<SequentialVerdict> RunAsync(AnalysisDue due, CancellationToken cancellationToken) =>
            Task.FromResult(new SequentialVerdict(VerdictOutcome.NoData, new AnalysisEvidence("accumulating", []), $"ticks {Interlocked.Increment(ref _ticks)}", false));
    }

    private static Task<EngineUnderTest> EngineAsync() =>
        StartAsync(extra: services => services.AddSingleton<ISequentialAnalysisRunner>(new AccumulatingRunner()));

    private static async Task TickAndWait(EngineUnderTest e)
    {
        var before = (await e.Find(Target))!.AnalysisSequence;
        await e.Tick(Tick);
        await e.Until(Target, x => x.AnalysisSequence > before || x.CurrentState != RolloutPhases.Progressing, "the tick's check");
    }

    [Fact]
    public async Task Rollout_hooks_run_at_the_first_tick_of_a_step_and_then_once_per_interval_not_every_tick()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        await using var e = await EngineAsync();
        await e.Request(Target, "v2", Plan(receiver.UrlFor("tests")));
        await e.At(10);

        await TickAndWait(e);
        Assert.Single(receiver.For("tests"));
        for (var i = 0; i < 5; i++) await TickAndWait(e); // 5 s … 25 s into the step
        Assert.Single(receiver.For("tests"));
        await TickAndWait(e); // one interval after the first tick
        Assert.Equal(2, receiver.For("tests").Count);

        var s = (await e.Find(Target))!;
        Assert.Equal((RolloutPhases.Progressing, 0), (s.CurrentState, s.FailedChecks));
        Assert.Equal("ticks 7", s.SequentialEvidence);
    }

    [Fact]
    public async Task A_failing_rollout_hook_fails_the_sequential_check_and_rolls_back_at_the_failure_limit()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        receiver.Script("tests", new RecordingReceiver.Answer(412), new RecordingReceiver.Answer(412));
        await using var e = await EngineAsync();
        await e.Request(Target, "v2", Plan(receiver.UrlFor("tests")));
        await e.At(10);

        await TickAndWait(e);
        var s = await e.Until(Target, x => x.FailedChecks == 1, "the hook's failed check");
        Assert.Equal((RolloutPhases.Progressing, 10), (s.CurrentState, s.AppliedWeight)); // failureLimit 2: not decisive
        Assert.Contains(s.LastEvidence!.Metrics, m => m.Name == "hook:tests" && m.Outcome == "fail");
        Assert.Equal("ticks 1", s.SequentialEvidence); // the running test goes on

        for (var i = 0; i < 6 && (await e.Find(Target))!.CurrentState == RolloutPhases.Progressing; i++) await TickAndWait(e);
        s = await e.Until(Target, x => x.CurrentState == RolloutPhases.Failed, "rollback at the second failed hook");
        Assert.Equal(2, receiver.For("tests").Count);
        Assert.Contains("hook tests", s.LastReason);
        Assert.Equal([10, 0], e.World[Target].AppliedWeights);
    }
}

/// <summary>When a sequential tick runs the rollout hooks: pure arithmetic on the due check.</summary>
public sealed class SequentialHooksDueTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static AnalysisDue Due(int secondsAfterStart, bool hooks = true) => new(
        Guid.NewGuid(), Guid.NewGuid(), new RolloutTarget("shop", "checkout"), "v2", 10, 1, Start.AddSeconds(secondsAfterStart), TimeSpan.FromSeconds(30),
        new AnalysisSpec(10, [], null, new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10))), null, Start,
        hooks ? [HookedEngine.Hook(HookTypes.Rollout, "http://127.0.0.1:1/h")] : null);

    [Fact]
    public void The_first_tick_of_a_step_and_the_first_of_each_interval_run_the_hooks()
    {
        var due = Enumerable.Range(1, 13).Select(n => n * 5).Where(s => SequentialHooks.Due(Due(s))).ToList();
        Assert.Equal([5, 35, 65], due);
    }

    [Fact]
    public void The_baseline_read_and_the_early_look_before_the_first_whole_tick_run_no_hooks()
    {
        // SequentialSchedule with a 2 s first look: checks at 0 (baseline), 2, 5, 10, ...; the hooks keep to 5, 35, 65.
        var due = new[] { 0, 2 }.Concat(Enumerable.Range(1, 13).Select(n => n * 5)).Where(s => SequentialHooks.Due(Due(s))).ToList();
        Assert.Equal([5, 35, 65], due);
    }

    [Fact]
    public void No_hooks_or_window_mode_never_count_as_a_sequential_hook_tick()
    {
        Assert.False(SequentialHooks.Due(Due(5, hooks: false)));
        Assert.False(SequentialHooks.Due(Due(5) with { Spec = new AnalysisSpec(10, []) }));
    }

    [Fact]
    public void A_failing_hook_turns_an_accumulating_or_passing_tick_into_a_failed_check_that_is_not_decisive()
    {
        var hook = HookedEngine.Hook(HookTypes.Rollout, "http://127.0.0.1:1/h");
        var failed = new[] { new HookResult(hook, HookOutcomes.Failed, "answered 412") };
        foreach (var outcome in new[] { VerdictOutcome.NoData, VerdictOutcome.Passed })
        {
            var v = SequentialHooks.With(new SequentialVerdict(outcome, new AnalysisEvidence("x", []), "state", false), failed);
            Assert.Equal((VerdictOutcome.Failed, false, "state"), (v.Outcome, v.Decisive, v.State));
        }
        var rejected = SequentialHooks.With(new SequentialVerdict(VerdictOutcome.Failed, new AnalysisEvidence("rejected", []), "s", true), failed);
        Assert.True(rejected.Decisive); // the test's own rejection still rolls back at once
        var ok = SequentialHooks.With(new SequentialVerdict(VerdictOutcome.Passed, new AnalysisEvidence("p", []), "s", false),
            [new HookResult(hook, HookOutcomes.Ok, "answered 200")]);
        Assert.Equal(VerdictOutcome.Passed, ok.Outcome);
        Assert.Contains(ok.Evidence.Metrics, m => m.Name == "hook:rollout" && m.Outcome == "pass");
    }
}

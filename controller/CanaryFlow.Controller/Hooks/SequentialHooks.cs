using CanaryFlow.Analysis;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Hooks;

/// <summary>
/// The rollout hooks in sequential mode. The check runs every tick (a few seconds), but a hook (an acceptance test,
/// a load test) is a heavier thing: it runs at the first whole tick of each step and then once per analysis interval, as
/// in window mode. Decided from the due check alone (its time, the step's start, the tick and the interval), so the
/// saga keeps no extra state and a restart neither skips nor repeats more than one call.
/// </summary>
public static class SequentialHooks
{
    /// <summary>Whether this tick is the first of a step or the first after a whole interval of it.</summary>
    public static bool Due(AnalysisDue due)
    {
        if (due.Hooks is not { Count: > 0 } || due.Spec.Sequential is not { } sequential || due.StepStartedAt is not { } started) return false;
        var tick = sequential.Tick > TimeSpan.Zero ? sequential.Tick : TimeSpan.FromSeconds(1);
        var interval = due.Interval > tick ? due.Interval : tick;
        // The step's first whole tick is one tick after its start: count from there. The checks before it (the
        // rollout's baseline read, the early look after a weight change: SequentialSchedule) run no hooks, so a hook
        // runs at the same moments with or without them.
        var elapsed = due.DueAt - started - tick;
        if (elapsed < TimeSpan.Zero) return false;
        return elapsed.Ticks % interval.Ticks < tick.Ticks;
    }

    /// <summary>A tick's verdict with the hooks' outcomes: a failing hook makes it a failed check (counted against the
    /// failure limit, as in window mode); the running evidence goes on either way, and only the test's own rejection
    /// stays decisive (rolls back at once). A tick on which the metrics source did not answer stays a query error: it
    /// is part of an outage hold, whose deadline a failing hook must not reset.</summary>
    public static SequentialVerdict With(SequentialVerdict verdict, IReadOnlyList<HookResult> hooks)
    {
        if (hooks.Count == 0) return verdict;
        var combined = HookRunner.WithHooks(new AnalysisVerdict(verdict.Outcome, verdict.Evidence), hooks);
        return combined.Outcome == VerdictOutcome.Failed && verdict.Outcome is not (VerdictOutcome.Failed or VerdictOutcome.QueryError)
            ? verdict with { Outcome = VerdictOutcome.Failed, Evidence = combined.Evidence, Decisive = false }
            : verdict with { Evidence = combined.Evidence };
    }
}

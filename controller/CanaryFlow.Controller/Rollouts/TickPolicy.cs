using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Decides, from durable rollout state and the clock alone, which timer facts are due: an analysis
/// check, a command that got no answer (lost in a crash or a broker restart), a missed progress
/// deadline. Remembers what it already said so it does not repeat itself every tick; that memory is
/// lost on restart on purpose, so a restarted controller re-says everything once (replies are
/// idempotent through sequence numbers).
/// </summary>
/// <param name="taken">What this process has consumed of the asks; without it (tests of timing alone) a copy is sent again
/// on time whether or not the last one was taken.</param>
public sealed partial class TickPolicy(RolloutEngineOptions options, DateTimeOffset startedAt, AsksTaken? taken = null)
{
    private readonly Dictionary<(Guid, string), (long Key, DateTimeOffset At, int Times)> _said = [];
    private readonly HashSet<Guid> _alive = [];
    private readonly List<(Guid, string)> _gone = [];

    /// <summary>What is due for one rollout now (each thing said once, see the class summary).</summary>
    public IReadOnlyList<object> Due(RolloutState s, DateTimeOffset now)
    {
        var due = new List<object>();
        AddDue(s, now, due);
        return due;
    }

    /// <summary>Whether the rollout's scheduled check (<see cref="RolloutState.NextAnalysisAt"/>) is asked for when due.</summary>
    public static bool WaitsOnAnalysis(RolloutState s) =>
        s.CurrentState is RolloutPhases.Progressing or RolloutPhases.Paused or RolloutPhases.WaitingApproval;

    /// <summary><see cref="Due"/> into a list the caller reuses: the ticker asks about every rollout every tick,
    /// and most have nothing due, so this allocates nothing for them.</summary>
    public void AddDue(RolloutState s, DateTimeOffset now, List<object> due)
    {
        var id = s.CorrelationId;
        if (WaitsOnAnalysis(s) && s.NextAnalysisAt is { } at && at <= now &&
            FirstOrOverdue(id, "analysis", s.AnalysisSequence, now, Max(s.Plan.AnalysisInterval, options.StallAfter), backOff: true, AskKind.Analysis))
        {
            // An unanswered check is asked again after the interval, then after twice as long each time: under load
            // (a backed-up partition queue, a slow Prometheus) a repeat every interval only adds copies in front of the
            // answer (issue 15: at 10,000 rollouts the queues grew by ~500 messages/s of repeats). Its answer ends them.
            // Before the first step the check is the pre-rollout hooks' (see RolloutState.Advance).
            due.Add(s.StepIndex < 0 && s.Plan.Has(HookTypes.PreRollout)
                ? new HooksDue(id, s.RolloutId, s.Target, s.Revision, HookTypes.PreRollout, s.AnalysisSequence, 0, s.Plan.HooksOf(HookTypes.PreRollout), at)
                : new AnalysisDue(id, s.RolloutId, s.Target, s.Revision, s.AppliedWeight, s.AnalysisSequence, at,
                    s.Plan.AnalysisInterval, s.Plan.Analysis, s.SequentialEvidence, s.StepStartedAt,
                    s.Plan.Has(HookTypes.Rollout) ? s.Plan.HooksOf(HookTypes.Rollout) : null));
        }

        // A confirm-* gate asks its hooks at once, then every interval until they say yes (keyed by the gate's sequence).
        if (s.CurrentState == RolloutPhases.WaitingApproval && s.Gate is { } gate &&
            FirstOrOverdue(id, "gate", s.Sequence, now, s.Plan.AnalysisInterval, answeredBy: AskKind.Gate))
        {
            due.Add(new HooksDue(id, s.RolloutId, s.Target, s.Revision, gate, s.Sequence, s.AppliedWeight, s.Plan.HooksOf(gate), now));
        }

        // A preparation or promotion applied while its Deployment rolls out is asked again until it is available (or past
        // its deadline); these repeats replace the stall's re-sends. They back off like a check's: a "not yet" is not
        // reported, so the ticker cannot tell a re-ask answered from one waiting in a backed-up queue, and every 2 s
        // without back-off such a queue filled with copies (issue 15: 5,500–18,000 messages per partition at 10,000).
        if (s.PendingAppliedAt is not null && s.Pending is PendingWork.Prepare or PendingWork.Promote &&
            FirstOrOverdue(id, "recheck", s.Sequence, now, options.RecheckAfter, backOff: true, AskKind.Command))
        {
            due.Add(s.Pending == PendingWork.Prepare ? s.PrepareCommand() : s.PromoteCommand());
        }

        if (s.Pending != null && s.PendingAppliedAt is null && s.PendingSince is { } since &&
            // A command sent before this process started may have been lost with it: re-send at once.
            (since + options.StallAfter <= now || since < startedAt) &&
            // Its command still queued is not stalled either: a stall would only queue a second copy behind it.
            FirstOrOverdue(id, "stall", s.Sequence, now, options.StallAfter, backOff: true, AskKind.Command,
                firstSentAt: since < startedAt ? null : since))
        {
            due.Add(new RolloutStalled(id, s.Sequence, now));
        }

        // A preparation's own answer says why at its deadline; this one (a stall later) is for when no answer comes.
        var grace = s.CurrentState == RolloutPhases.Initializing ? options.StallAfter : TimeSpan.Zero;
        if (s.ProgressDeadlineFrom() is { } from && from + s.Plan.ProgressDeadline + grace <= now &&
            FirstOrOverdue(id, "deadline", from.UtcTicks, now, options.StallAfter, answeredBy: AskKind.Deadline))
        {
            due.Add(new ProgressDeadlineExceeded(id, now));
        }
    }

    /// <summary>Forget rollouts that no longer exist or are at rest (sets reused from tick to tick: no garbage per tick).
    /// Nothing is ever due for a rollout at rest, so its memory here was kept for nothing (issue 15: with 10,000
    /// Canaries mostly at rest it was about 150 bytes each); a new revision starts it with new sequence numbers.</summary>
    public void Retain(IReadOnlyList<RolloutState> states)
    {
        _alive.Clear();
        foreach (var s in states)
            if (!AtRest(s)) _alive.Add(s.CorrelationId);
        _gone.Clear();
        foreach (var key in _said.Keys)
            if (!_alive.Contains(key.Item1)) _gone.Add(key);
        foreach (var key in _gone) _said.Remove(key);
        // The tables keep the room of their busiest tick: give it back once most of it is unused.
        if (_said.EnsureCapacity(0) > 4 * Math.Max(64, _said.Count)) _said.TrimExcess();
        if (_alive.EnsureCapacity(0) > 4 * Math.Max(64, _alive.Count)) _alive.TrimExcess();
        if (_gone.Capacity > 4 * Math.Max(64, _gone.Count)) _gone.TrimExcess();
        taken?.Retain(_alive);
    }

    /// <summary>How many rollouts this policy remembers something of (for tests).</summary>
    public int Remembered => _said.Keys.Select(k => k.Item1).Distinct().Count();

    /// <summary>Finished, waiting on nothing: <see cref="AddDue"/> has nothing to say of it.</summary>
    public static bool AtRest(RolloutState s) =>
        s.CurrentState is RolloutPhases.Succeeded or RolloutPhases.Failed && s.Pending is null;

    /// <param name="backOff">Double the wait after each repeat (up to 32×): work that is slow (a command waiting for a
    /// Deployment to become available, a check behind a long queue) must not pile up copies of itself.</param>
    /// <param name="answeredBy">What takes a copy off the queue: a repeat waits until the last copy was taken (or until
    /// <see cref="RolloutEngineOptions.ResendUntakenAfter"/>, for a copy lost without a restart), see <see cref="AsksTaken"/>.</param>
    /// <param name="firstSentAt">When the first copy was sent by someone else (the saga's command, for a stall), if this
    /// process may have seen it taken; then even the first ask waits for it.</param>
    private bool FirstOrOverdue(Guid id, string kind, long key, DateTimeOffset now, TimeSpan repeatAfter, bool backOff = false,
        AskKind? answeredBy = null, DateTimeOffset? firstSentAt = null)
    {
        var times = 0;
        var lastSentAt = firstSentAt;
        if (_said.TryGetValue((id, kind), out var said) && said.Key == key)
        {
            times = said.Times;
            var wait = backOff ? repeatAfter * Math.Pow(2, Math.Min(times - 1, 5)) : repeatAfter;
            if (said.At + wait > now) return false;
            lastSentAt = said.At;
        }
        if (answeredBy is { } by && lastSentAt is { } sent &&
            taken?.StillQueued(id, by, sent, now, options.ResendUntakenAfter) == true) return false;
        _said[(id, kind)] = (key, now, times + 1);
        return true;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

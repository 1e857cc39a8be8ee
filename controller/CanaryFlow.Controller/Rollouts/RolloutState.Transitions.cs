using CanaryFlow.Analysis;
using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

// The state changes the state machine applies, one method per decision, so that the machine itself
// reads as a table. Pure: no I/O, time passed in.
public sealed partial class RolloutState
{
    public void Begin(RolloutRequested request, DateTimeOffset now)
    {
        RolloutId = request.RolloutId;
        Target = request.Target;
        Revision = request.Revision;
        Image = request.Image;
        Plan = request.Plan;
        RequestedBy = request.Actor;
        Queued = null;
        Restart($"rollout of {request.Revision} requested by {request.Actor}: {request.Reason}", now);
    }

    /// <summary>Start this revision again from the first step. Sequence numbers keep growing, so replies
    /// meant for an earlier attempt can never be taken for this one's.</summary>
    public void Restart(string reason, DateTimeOffset now)
    {
        StepIndex = -1;
        DesiredWeight = 0;
        FailedChecks = PassedChecks = ConsecutiveNoData = ConsecutiveErrors = 0;
        LastEvidence = null;
        SequentialEvidence = null;
        StepStartedAt = MetricsDownSince = null;
        DecisiveFailure = false;
        ResumeTo = null;
        Gate = null;
        NextAnalysisAt = null;
        StartedAt = now;
        LastProgressAt = now;
        Await(PendingWork.Prepare, now);
        Note(reason, now);
    }

    /// <summary>Requested while the controller already runs its <c>Rollouts:MaxActive</c> rollouts: it waits for a slot
    /// (<see cref="RolloutPhases.Queued"/>), nothing asked of the canary, so no command pending, no stall and no deadline.
    /// The sequence the request took stays: it names this wait (<see cref="AdmitRollout.Sequence"/>).</summary>
    public void WaitForSlot(DateTimeOffset now)
    {
        Pending = null;
        PendingSince = PendingAppliedAt = null;
        Note($"{LastReason}; queued: the controller runs its maximum of active rollouts, this one starts when a slot is free", now);
    }

    /// <summary>A newer revision while queued: it takes the older one's place in the queue (the target has waited that long).</summary>
    public void ReplaceQueued(RolloutRequested newer, DateTimeOffset now)
    {
        var waitingSince = StartedAt;
        Begin(newer, now);
        StartedAt = waitingSince;
        WaitForSlot(now);
    }

    public bool IsWaitFor(AdmitRollout admit) => Pending is null && admit.Sequence == Sequence;

    /// <summary>Out of the queue: prepared now, its progress counted from now (its wait was not its own delay).</summary>
    public void Admit(DateTimeOffset now)
    {
        LastProgressAt = now;
        Await(PendingWork.Prepare, now);
        Note("a slot is free: preparing the canary", now);
    }

    /// <summary>The next move towards more traffic: the pre-rollout hooks once before any traffic (a check at 0%,
    /// due now, answered like any check), else the next step.</summary>
    public void Advance(string reason, DateTimeOffset now)
    {
        if (StepIndex < 0 && PassedChecks == 0 && Plan.Has(HookTypes.PreRollout)) BeginPreRollout(reason, now);
        else EnterStep(StepIndex + 1, now, reason);
    }

    private void BeginPreRollout(string reason, DateTimeOffset now)
    {
        Gate = null;
        Pending = null;
        PendingSince = PendingAppliedAt = null;
        LastProgressAt = now;
        ScheduleCheck(now);
        Note($"{reason}; running pre-rollout hooks before any traffic", now);
    }

    /// <summary>Waits in WaitingApproval; <paramref name="gate"/> names the confirm-* hooks that are asked, null for a person.</summary>
    public void EnterGate(string? gate, string reason, DateTimeOffset now)
    {
        Gate = gate;
        Note(reason, now);
    }

    /// <summary>Confirm-traffic-increase hooks gate every step after the first (confirm-rollout gates the first).</summary>
    public bool GatesBeforeIncrease() => StepIndex >= 0 && Plan.Has(HookTypes.ConfirmTrafficIncrease);

    public bool GatesBeforePromotion() => Plan.ApprovalBeforePromotion || Plan.Has(HookTypes.ConfirmPromotion);

    /// <summary>A hook's yes counts only at the gate it was asked at; a person's promote (no sequence) at any gate.</summary>
    public bool PassesGate(PromoteRollout promote) =>
        promote.GateSequence is not { } asked || (Gate != null && asked == Sequence);

    public void EnterStep(int index, DateTimeOffset now, string reason)
    {
        Gate = null;
        StepIndex = index;
        DesiredWeight = Plan.Steps[index];
        NextAnalysisAt = null; // checks resume once the new weight is applied
        ConsecutiveNoData = ConsecutiveErrors = 0;
        SequentialEvidence = SequentialState.StartStep(SequentialEvidence);
        LastProgressAt = now;
        Await(PendingWork.Weight, now);
        Note($"{reason}; step {index + 1}/{Plan.Steps.Count}: canary weight {DesiredWeight}%", now);
    }

    /// <param name="reason">What the announcement says; by default the weight alone (a worker's reply, later than the
    /// step's reason). Written in the step's own message, the step's reason says why the weight moved.</param>
    public void WeightApplied(int weight, DateTimeOffset now, string? reason = null)
    {
        AppliedWeight = weight;
        Pending = null;
        PendingSince = PendingAppliedAt = null;
        LastProgressAt = now;
        StepStartedAt = now;
        ScheduleCheck(Plan.Analysis.Sequential is { } sequential
            ? SequentialSchedule.First(now, sequential.Tick, sequential.FirstLook, baselineRead: SequentialEvidence != null)
            : FixedWindowSchedule.Next(now, now, Plan.AnalysisInterval));
        Note(reason ?? $"canary weight {weight}%", now);
    }

    public void CheckPassed(AnalysisEvidence evidence, DateTimeOffset now, string? sequentialState = null)
    {
        Sequential(sequentialState, answered: true);
        PassedChecks++;
        ConsecutiveNoData = ConsecutiveErrors = 0;
        Record(evidence, now);
        Note($"analysis passed at {AppliedWeight}%: {evidence.Summary}", now);
    }

    public void CheckFailed(AnalysisEvidence evidence, DateTimeOffset now, string? sequentialState = null, bool decisive = false)
    {
        Sequential(sequentialState, answered: true);
        DecisiveFailure = decisive;
        FailedChecks++;
        ConsecutiveNoData = ConsecutiveErrors = 0;
        Record(evidence, now);
        Note($"analysis failed at {AppliedWeight}% ({FailedChecks}/{Plan.FailureLimit}): {evidence.Summary}", now);
    }

    public void CheckInconclusive(InconclusiveKind kind, AnalysisEvidence evidence, DateTimeOffset now, string? sequentialState = null)
    {
        if (Plan.Analysis.Sequential is { } sequential)
        {
            // Sequential mode: no decision yet is not a strike, and an outage of the metrics source is not
            // evidence against the canary. The rollout holds (weights frozen: only a pass moves them) until
            // Prometheus answers again or the outage deadline passes.
            Sequential(sequentialState, answered: kind != InconclusiveKind.QueryError);
            Record(evidence, now);
            if (kind == InconclusiveKind.QueryError)
            {
                var first = MetricsDownSince is null;
                MetricsDownSince ??= now;
                if (first)
                    Note($"holding at {AppliedWeight}%: the metrics source does not answer ({evidence.Summary}); " +
                         $"resumes when it does, rolls back at {MetricsDownSince + sequential.MetricsOutageDeadline:u}", now);
            }
            // A step held on strong evidence (spec.analysis.sequential.holdAt) is said once per step, as the status message.
            else if (evidence.Metrics.Any(m => m.Name == SequentialAnalysisRunner.HoldMetric) && !LastReason.StartsWith(StepHeld, StringComparison.Ordinal))
                Note($"{StepHeld} {AppliedWeight}%: {evidence.Summary}", now);
            return;
        }
        if (kind == InconclusiveKind.NoData) { ConsecutiveNoData++; ConsecutiveErrors = 0; }
        else { ConsecutiveErrors++; ConsecutiveNoData = 0; }
        Record(evidence, now);
        // Fixed-window mode holds too (weights stay: only a pass moves them): a query error counts against errorLimit,
        // as Flagger users set it, but the hold's time does not count against the progress deadline, which starts
        // again from the hold's beginning (issue 15: at 10,000 canaries an overloaded Prometheus rolled healthy canaries
        // back through the deadline alone).
        if (kind == InconclusiveKind.QueryError && MetricsDownSince is null)
        {
            MetricsDownSince = now;
            Note($"holding at {AppliedWeight}%: the metrics source does not answer ({evidence.Summary}); resumes when it does, " +
                 $"rolls back at {now + Plan.ProgressDeadline:u}" + (Plan.ErrorLimit > 0 ? $" or after {Plan.ErrorLimit} query errors in a row" : ""), now);
            return;
        }
        Note($"analysis inconclusive ({kind}) at {AppliedWeight}%: {evidence.Summary}", now);
    }

    public void BeginPromotion(string reason, DateTimeOffset now)
    {
        Gate = null;
        NextAnalysisAt = null;
        LastProgressAt = now;
        Await(PendingWork.Promote, now);
        Note(reason, now);
    }

    public void BeginRollback(string reason, DateTimeOffset now)
    {
        Gate = null;
        NextAnalysisAt = null;
        DesiredWeight = 0;
        Await(PendingWork.Rollback, now);
        Note(reason, now);
    }

    public void Supersede(RolloutRequested newer, DateTimeOffset now)
    {
        Queued = newer;
        BeginRollback($"superseded by revision {newer.Revision}", now);
    }

    /// <summary>A newer revision arrived while promoting or rolling back: it starts when that is done.</summary>
    public void Queue(RolloutRequested newer, DateTimeOffset now)
    {
        Queued = newer;
        Note($"revision {newer.Revision} queued until {Revision} finishes", now);
    }

    public void PauseFrom(string phase, string reason, DateTimeOffset now)
    {
        ResumeTo = phase;
        Note(reason, now);
    }

    public void Finish(bool promoted, string reason, DateTimeOffset now)
    {
        if (promoted) StableRevision = Revision;
        // A promotion that failed leaves traffic where it was (on the healthy canary); every other ending
        // leaves all of it on stable.
        var trafficStaysOnCanary = !promoted && Pending == PendingWork.Promote;
        if (!trafficStaysOnCanary) { AppliedWeight = 0; DesiredWeight = 0; }
        Pending = null;
        PendingSince = PendingAppliedAt = null;
        NextAnalysisAt = null;
        Note(reason, now);
    }

    public void Resend(DateTimeOffset now) => PendingSince = now;

    /// <summary>A worker applied the pending preparation or promotion at <paramref name="at"/> and its Deployment is not
    /// available yet. The first such answer counts (a re-sent command's is later): the deadline runs from it.</summary>
    public void WorkApplied(string reason, DateTimeOffset at, DateTimeOffset now)
    {
        PendingAppliedAt ??= at;
        Note(reason, now);
    }

    /// <summary>The instant the rollout's progress deadline counts from, or null when none applies now: a preparation
    /// counts from when a worker applied it, not from when it was queued (issue 15: at 10,000 rollouts a preparation waited
    /// minutes in its partition's queue); before that, nothing has been asked of the canary. While a sequential rollout
    /// holds for an outage of its metrics source, none either: the outage deadline (spec.analysis.sequential.
    /// metricsOutageDeadline) is the one that applies. A fixed-window rollout has no outage deadline of its own: its hold
    /// gets a whole progress deadline from its start. Either way the hold's time is not counted once it ends (<see cref="MetricsHold.EndHold"/>).</summary>
    public DateTimeOffset? ProgressDeadlineFrom() => CurrentState switch
    {
        RolloutPhases.Initializing => PendingAppliedAt,
        RolloutPhases.Progressing when this.Holds() => Plan.Analysis.Sequential is null ? MetricsDownSince : null,
        RolloutPhases.Progressing => LastProgressAt,
        _ => null,
    };

    public void Note(string reason, DateTimeOffset now)
    {
        LastReason = reason;
        LastTransitionAt = now;
    }

    public bool IsReplyTo(string? pending, long sequence) => pending != null && Pending == pending && Sequence == sequence;

    public bool IsCurrentCheck(long sequence) => NextAnalysisAt != null && sequence == AnalysisSequence;

    public bool HasNextStep() => StepIndex + 1 < Plan.Steps.Count;

    public bool GateAtCurrentWeight() => Plan.ApprovalAtWeights.Contains(AppliedWeight);

    public bool FailureLimitReached() => DecisiveFailure || FailedChecks >= Math.Max(1, Plan.FailureLimit);

    public bool InconclusiveLimitReached() =>
        (Plan.Analysis.Sequential is { } sequential && MetricsDownSince is { } down && LastAnalysisAt is { } at
         && at - down >= sequential.MetricsOutageDeadline) ||
        (Plan.InconclusiveLimit > 0 && ConsecutiveNoData >= Plan.InconclusiveLimit) ||
        (Plan.ErrorLimit > 0 && ConsecutiveErrors >= Plan.ErrorLimit);

    /// <summary>The start of the reason noted when a step is held past its interval on strong evidence.</summary>
    public const string StepHeld = "step held at";

    /// <summary>Sequential mode: a check just held its step on strong evidence, the first time at this step (for the announcement).</summary>
    public bool StepHoldJustStarted() => LastReason.StartsWith(StepHeld, StringComparison.Ordinal) && LastTransitionAt == LastAnalysisAt;

    /// <summary>A check's outcome just began a hold of the rollout (for the announcement).</summary>
    public bool HoldJustStarted() => MetricsDownSince != null && MetricsDownSince == LastAnalysisAt;

    private void Sequential(string? state, bool answered)
    {
        if (state != null) SequentialEvidence = state;
        if (answered) MetricsDownSince = null;
    }

    private void Await(string work, DateTimeOffset now)
    {
        Sequence++;
        Pending = work;
        PendingSince = now;
        PendingAppliedAt = null;
    }

    private void Record(AnalysisEvidence evidence, DateTimeOffset now)
    {
        LastEvidence = evidence;
        LastAnalysisAt = now;
        // The next check is due one interval after this one was due, so a restart or a slow query never
        // shortens or lengthens a step; if the controller was down for longer, check once at once.
        if (Plan.Analysis.Sequential is { } sequential)
        {
            ScheduleCheck(SequentialSchedule.Next(NextAnalysisAt ?? now, now, StepStartedAt, sequential.Tick, sequential.FirstLook)); // the shared grids
            return;
        }
        ScheduleCheck(FixedWindowSchedule.Next(NextAnalysisAt ?? now, now, Plan.AnalysisInterval)); // the shared grid
    }

    private void ScheduleCheck(DateTimeOffset due)
    {
        AnalysisSequence++;
        NextAnalysisAt = due;
    }
}

using CanaryFlow.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// The rollout engine: one saga per target. It holds state and decides; workers (Workers/) carry out
/// its commands and report facts back. Read it as a table: state, event, what happens.
/// Every reply carries the sequence number of the command it answers; a stale one is ignored, which
/// makes duplicates and redeliveries harmless.
/// </summary>
public sealed class RolloutStateMachine : MassTransitStateMachine<RolloutState>
{
    public State Queued { get; private set; } = null!;
    public State Initializing { get; private set; } = null!;
    public State Progressing { get; private set; } = null!;
    public State Paused { get; private set; } = null!;
    public State WaitingApproval { get; private set; } = null!;
    public State Promoting { get; private set; } = null!;
    public State Succeeded { get; private set; } = null!;
    public State RollingBack { get; private set; } = null!;
    public State Failed { get; private set; } = null!;

    public Event<RolloutRequested> Requested { get; private set; } = null!;
    public Event<PromoteRollout> Promote { get; private set; } = null!;
    public Event<AbortRollout> Abort { get; private set; } = null!;
    public Event<PauseRollout> Pause { get; private set; } = null!;
    public Event<ResumeRollout> Resume { get; private set; } = null!;
    public Event<RetryRollout> Retry { get; private set; } = null!;
    public Event<AdmitRollout> Admit { get; private set; } = null!;
    public Event<CanaryReady> Ready { get; private set; } = null!;
    public Event<CanaryNotReady> NotReady { get; private set; } = null!;
    public Event<WorkApplied> Applied { get; private set; } = null!;
    public Event<TrafficShifted> Shifted { get; private set; } = null!;
    public Event<TrafficShiftFailed> ShiftFailed { get; private set; } = null!;
    public Event<AnalysisPassed> Passed { get; private set; } = null!;
    public Event<AnalysisFailed> CheckFailed { get; private set; } = null!;
    public Event<AnalysisInconclusive> Inconclusive { get; private set; } = null!;
    public Event<RolloutPromoted> Promoted { get; private set; } = null!;
    public Event<PromotionFailed> PromotionFailed { get; private set; } = null!;
    public Event<RolloutRolledBack> RolledBack { get; private set; } = null!;
    public Event<RolloutStalled> Stalled { get; private set; } = null!;
    public Event<ProgressDeadlineExceeded> DeadlineExceeded { get; private set; } = null!;

    /// <param name="options">Only whether rollouts wait for a slot (<see cref="RolloutEngineOptions.MaxActive"/>); the
    /// ticker decides which one gets it.</param>
    public RolloutStateMachine(TimeProvider clock, IOptions<RolloutEngineOptions>? options = null)
    {
        var queues = options?.Value.MaxActive > 0;
        InstanceState(x => x.CurrentState);

        Event(() => Requested, x => x.CorrelateById(m => m.Message.CorrelationId));
        Event(() => Promote, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Abort, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Pause, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Resume, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Retry, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Admit, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Ready, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => NotReady, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Applied, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Shifted, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => ShiftFailed, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Passed, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => CheckFailed, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Inconclusive, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Promoted, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => PromotionFailed, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => RolledBack, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Stalled, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => DeadlineExceeded, x => { x.CorrelateById(m => m.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });

        // Stale replies, duplicates and commands that make no sense in a state are dropped, not faulted.
        OnUnhandledEvent(x => x.Ignore());

        // Every change of phase is announced (RolloutTransitioned) for notifications, status and metrics.
        ConnectStateObserver(new TransitionAnnouncer(clock));

        var now = () => clock.GetUtcNow();

        // ── Start ───────────────────────────────────────────────────────────────────────────
        Initially(
            When(Requested)
                .Then(c => c.Saga.Begin(c.Message, now()))
                .Start(now, queues, Initializing, Queued));

        // ── Waiting for a slot (Rollouts:MaxActive): nothing asked of the canary yet ─────────
        During(Queued,
            When(Admit, c => c.Saga.IsWaitFor(c.Message))
                .Then(c => c.Saga.Admit(now()))
                .Publish(c => c.Saga.PrepareCommand())
                .TransitionTo(Initializing),
            When(Requested, c => c.Message.Revision != c.Saga.Revision)
                .Publish(c => new RolloutSuperseded(c.Saga.CorrelationId, c.Saga.RolloutId, c.Saga.Target, c.Saga.Revision, c.Message.Revision, now()))
                .Then(c => c.Saga.ReplaceQueued(c.Message, now())),
            When(Abort)
                .Then(c => c.Saga.Finish(promoted: false, $"aborted by {c.Message.Actor} before it started: {c.Message.Reason}", now()))
                .Publish(c => c.Saga.FailedEvent(now()))
                .TransitionTo(Failed));

        During(Initializing,
            When(Ready, c => c.Saga.IsReplyTo(PendingWork.Prepare, c.Message.Sequence))
                .IfElse(c => c.Saga.Plan.Has(HookTypes.ConfirmRollout),
                    gate => gate
                        .Then(c => c.Saga.EnterGate(HookTypes.ConfirmRollout, "canary is available; waiting for the confirm-rollout hooks", now()))
                        .Publish(c => c.Saga.AwaitingApproval(now()))
                        .TransitionTo(WaitingApproval),
                    go => go
                        .Advance(_ => "canary is available", now)
                        .TransitionTo(Progressing)
                        .ShiftWeight(now, WaitingApproval)),
            When(NotReady, c => c.Saga.IsReplyTo(PendingWork.Prepare, c.Message.Sequence))
                .Then(c => c.Saga.BeginRollback($"canary not ready: {c.Message.Reason}", now()))
                .Publish(c => c.Saga.RollbackCommand())
                .TransitionTo(RollingBack));

        // ── Moving traffic, step by step ───────────────────────────────────────────────────
        During(Progressing,
            // The worker's reply when the weight was not written in the saga (a failed write, or a re-sent command).
            When(Shifted, c => c.Saga.IsReplyTo(PendingWork.Weight, c.Message.Sequence))
                .Then(c => c.Saga.WeightApplied(c.Message.ToWeight, now()))
                .WeightShifted(now, WaitingApproval),
            When(Passed, c => c.Saga.IsCurrentCheck(c.Message.Sequence))
                .EndHoldIfAnswered(_ => true, now)
                .Then(c => c.Saga.CheckPassed(c.Message.Evidence, now(), c.Message.SequentialState))
                .IfElse(c => c.Saga.HasNextStep(),
                    next => next
                        .IfElse(c => c.Saga.GatesBeforeIncrease(),
                            gate => gate
                                .Then(c => c.Saga.EnterGate(HookTypes.ConfirmTrafficIncrease, "analysis passed; waiting for the confirm-traffic-increase hooks", now()))
                                .Publish(c => c.Saga.AwaitingApproval(now()))
                                .TransitionTo(WaitingApproval),
                            go => go.Advance(_ => "analysis passed", now).ShiftWeight(now, WaitingApproval)),
                    last => last
                        .IfElse(c => c.Saga.GatesBeforePromotion(),
                            gate => gate
                                .Then(c => c.Saga.EnterGate(c.Saga.Plan.Has(HookTypes.ConfirmPromotion) ? HookTypes.ConfirmPromotion : null,
                                    "waiting for approval before promotion", now()))
                                .Publish(c => c.Saga.AwaitingApproval(now()))
                                .TransitionTo(WaitingApproval),
                            promote => promote
                                .Then(c => c.Saga.BeginPromotion("all steps passed", now()))
                                .Publish(c => c.Saga.PromoteCommand())
                                .TransitionTo(Promoting))),
            When(Promote, c => c.Message.GateSequence is null) // a hook's yes belongs to a gate, never skips steps
                .Then(c => c.Saga.BeginPromotion($"promoted by {c.Message.Actor}: {c.Message.Reason}", now()))
                .Publish(c => c.Saga.PromoteCommand())
                .TransitionTo(Promoting),
            When(Pause)
                .Then(c => c.Saga.PauseFrom(RolloutPhases.Progressing, $"paused by {c.Message.Actor}: {c.Message.Reason}", now()))
                .Publish(c => new RolloutPaused(c.Saga.CorrelationId, c.Saga.RolloutId, c.Saga.Target, c.Message.Actor, c.Message.Reason, now()))
                .TransitionTo(Paused),
            When(DeadlineExceeded)
                // What it was doing says whose the delay was: checks unanswered or inconclusive, or a weight not written.
                .Then(c => c.Saga.BeginRollback($"no progress within the progress deadline ({c.Saga.Plan.ProgressDeadline.TotalSeconds:0}s) at {c.Saga.AppliedWeight}%; last: {c.Saga.LastReason}", now()))
                .Publish(c => c.Saga.RollbackCommand())
                .TransitionTo(RollingBack));

        // ── Waiting on a person: analysis keeps running, and a breach still rolls back ─────
        During(Paused,
            When(Resume)
                .Then(c => c.Saga.Note($"resumed by {c.Message.Actor}: {c.Message.Reason}", now()))
                .Publish(c => new RolloutResumed(c.Saga.CorrelationId, c.Saga.RolloutId, c.Saga.Target, c.Message.Actor, c.Message.Reason, now()))
                .IfElse(c => c.Saga.ResumeTo == RolloutPhases.WaitingApproval,
                    toGate => toGate.TransitionTo(WaitingApproval),
                    toSteps => toSteps.TransitionTo(Progressing)),
            When(Shifted, c => c.Saga.IsReplyTo(PendingWork.Weight, c.Message.Sequence))
                .Then(c => c.Saga.WeightApplied(c.Message.ToWeight, now()))
                .Announce(now),
            When(Passed, c => c.Saga.IsCurrentCheck(c.Message.Sequence))
                .EndHoldIfAnswered(_ => true, now)
                .Then(c => c.Saga.CheckPassed(c.Message.Evidence, now(), c.Message.SequentialState)),
            When(Promote, c => c.Message.GateSequence is null)
                .Then(c => c.Saga.BeginPromotion($"promoted by {c.Message.Actor}: {c.Message.Reason}", now()))
                .Publish(c => c.Saga.PromoteCommand())
                .TransitionTo(Promoting));

        During(WaitingApproval,
            When(Promote, c => c.Saga.PassesGate(c.Message))
                .Then(c => c.Saga.Note($"approved by {c.Message.Actor}: {c.Message.Reason}", now()))
                .IfElse(c => c.Saga.HasNextStep(),
                    next => next
                        .Advance(c => $"approved by {c.Message.Actor}", now)
                        .TransitionTo(Progressing)
                        .ShiftWeight(now, WaitingApproval),
                    promote => promote
                        .Then(c => c.Saga.BeginPromotion($"approved by {c.Message.Actor}: {c.Message.Reason}", now()))
                        .Publish(c => c.Saga.PromoteCommand())
                        .TransitionTo(Promoting)),
            When(Passed, c => c.Saga.IsCurrentCheck(c.Message.Sequence))
                .EndHoldIfAnswered(_ => true, now)
                .Then(c => c.Saga.CheckPassed(c.Message.Evidence, now(), c.Message.SequentialState)),
            When(Pause)
                .Then(c => c.Saga.PauseFrom(RolloutPhases.WaitingApproval, $"paused by {c.Message.Actor}: {c.Message.Reason}", now()))
                .Publish(c => new RolloutPaused(c.Saga.CorrelationId, c.Saga.RolloutId, c.Saga.Target, c.Message.Actor, c.Message.Reason, now()))
                .TransitionTo(Paused));

        // ── Checks that count against the canary, wherever it waits ────────────────────────
        During(Progressing, Paused, WaitingApproval,
            When(CheckFailed, c => c.Saga.IsCurrentCheck(c.Message.Sequence))
                .EndHoldIfAnswered(_ => true, now)
                .Then(c => c.Saga.CheckFailed(c.Message.Evidence, now(), c.Message.SequentialState, c.Message.Decisive))
                .Announce(now)
                .If(c => c.Saga.FailureLimitReached(), breach => breach
                    .Then(c => c.Saga.BeginRollback(c.Message.Decisive ? c.Message.Evidence.Summary : $"{c.Saga.FailedChecks} failed checks: {c.Message.Evidence.Summary}", now()))
                    .Publish(c => c.Saga.RollbackCommand())
                    .TransitionTo(RollingBack)),
            When(Inconclusive, c => c.Saga.IsCurrentCheck(c.Message.Sequence))
                .EndHoldIfAnswered(m => m.Kind != InconclusiveKind.QueryError, now)
                .Then(c => c.Saga.CheckInconclusive(c.Message.Kind, c.Message.Evidence, now(), c.Message.SequentialState))
                .If(c => c.Saga.HoldJustStarted() || c.Saga.StepHoldJustStarted(), hold => hold.Announce(now))
                .If(c => c.Saga.InconclusiveLimitReached(), breach => breach
                    .Then(c => c.Saga.BeginRollback(c.Saga.MetricsDownSince is { } down && c.Saga.Plan.Analysis.Sequential != null
                        ? $"the metrics source has not answered since {down:u}, past the metrics outage deadline: {c.Message.Evidence.Summary}"
                        : $"too many inconclusive checks ({c.Message.Kind}): {c.Message.Evidence.Summary}", now()))
                    .Publish(c => c.Saga.RollbackCommand())
                    .TransitionTo(RollingBack)));

        // ── Anything still running can be aborted or superseded, and re-sends what it waits on ─
        During(Initializing, Progressing, Paused, WaitingApproval,
            When(Abort)
                .Then(c => c.Saga.BeginRollback($"aborted by {c.Message.Actor}: {c.Message.Reason}", now()))
                .Publish(c => c.Saga.RollbackCommand())
                .TransitionTo(RollingBack),
            When(Requested, c => c.Message.Revision != c.Saga.Revision)
                .Publish(c => new RolloutSuperseded(c.Saga.CorrelationId, c.Saga.RolloutId, c.Saga.Target, c.Saga.Revision, c.Message.Revision, now()))
                .Then(c => c.Saga.Supersede(c.Message, now()))
                .Publish(c => c.Saga.RollbackCommand())
                .TransitionTo(RollingBack),
            When(ShiftFailed, c => c.Saga.IsReplyTo(PendingWork.Weight, c.Message.Sequence))
                .Then(c => c.Saga.Note($"could not set weight {c.Message.Weight}%: {c.Message.Reason}; will retry", now())));

        // Only a rollout waiting on a command has a matching Pending/Sequence, whatever its state.
        DuringAny(
            When(Stalled, c => c.Saga.IsReplyTo(c.Saga.Pending, c.Message.Sequence))
                .Then(c => c.Saga.Resend(now()))
                .ThenAsync(c => c.PublishPendingAsync(c.Saga)));

        // A preparation or promotion applied while its Deployment rolls out: the ticker asks again from now on.
        During(Initializing, Promoting,
            When(Applied, c => c.Saga.IsReplyTo(c.Saga.Pending, c.Message.Sequence) && c.Saga.PendingAppliedAt is null)
                .Then(c => c.Saga.WorkApplied(c.Message.Reason, c.Message.At, now())));

        During(Initializing,
            When(DeadlineExceeded)
                .Then(c => c.Saga.BeginRollback($"canary did not become ready within the progress deadline of its preparation, applied at {c.Saga.PendingAppliedAt:u}", now()))
                .Publish(c => c.Saga.RollbackCommand())
                .TransitionTo(RollingBack));

        // ── Finishing ──────────────────────────────────────────────────────────────────────
        During(Promoting,
            When(Promoted, c => c.Saga.IsReplyTo(PendingWork.Promote, c.Message.Sequence))
                .Then(c => c.Saga.Finish(promoted: true, "promoted", now()))
                .Publish(c => new RolloutSucceeded(c.Saga.CorrelationId, c.Saga.RolloutId, c.Saga.Target, c.Saga.Revision, now()))
                .TransitionTo(Succeeded)
                .If(c => c.Saga.Queued != null, next => next
                    .Then(c => c.Saga.Begin(c.Saga.Queued!, now()))
                    .Start(now, queues, Initializing, Queued)),
            When(PromotionFailed, c => c.Saga.IsReplyTo(PendingWork.Promote, c.Message.Sequence))
                .Then(c => c.Saga.Finish(promoted: false, $"promotion failed, traffic kept on the canary: {c.Message.Reason}", now()))
                .Publish(c => c.Saga.FailedEvent(now()))
                .TransitionTo(Failed),
            When(Requested, c => c.Message.Revision != c.Saga.Revision)
                .Then(c => c.Saga.Queue(c.Message, now())));

        During(RollingBack,
            When(RolledBack, c => c.Saga.IsReplyTo(PendingWork.Rollback, c.Message.Sequence))
                .IfElse(c => c.Saga.Queued != null,
                    next => next
                        .Then(c => c.Saga.Begin(c.Saga.Queued!, now()))
                        .Start(now, queues, Initializing, Queued),
                    done => done
                        .Then(c => c.Saga.Finish(promoted: false, c.Saga.LastReason, now()))
                        .Publish(c => c.Saga.FailedEvent(now()))
                        .TransitionTo(Failed)),
            When(Requested, c => c.Message.Revision != c.Saga.Revision)
                .Then(c => c.Saga.Queue(c.Message, now())));

        // ── At rest: a new revision starts a new rollout; a failed one can be retried ───────
        During(Succeeded, Failed,
            When(Requested, c => c.Message.Revision != c.Saga.Revision)
                .Then(c => c.Saga.Begin(c.Message, now()))
                .Start(now, queues, Initializing, Queued));

        During(Failed,
            When(Retry)
                .Then(c => c.Saga.Restart($"retried by {c.Message.Actor}: {c.Message.Reason}", now()))
                .Start(now, queues, Initializing, Queued));
    }
}

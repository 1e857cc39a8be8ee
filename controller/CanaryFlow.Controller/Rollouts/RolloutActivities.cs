using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Steps of the state machine's table used in more than one row.</summary>
public static class RolloutActivities
{
    /// <summary>A rollout just begun (its request recorded, see <see cref="RolloutState.Begin"/>): announced, and its canary
    /// prepared at once, or, when the controller limits how many run at a time (<see cref="RolloutEngineOptions.MaxActive"/>),
    /// queued until the ticker admits it (<see cref="AdmissionPolicy"/>).</summary>
    public static EventActivityBinder<RolloutState, T> Start<T>(this EventActivityBinder<RolloutState, T> binder,
        Func<DateTimeOffset> now, bool queues, State initializing, State queued) where T : class =>
        binder
            .Publish(c => c.Saga.Started(now()))
            .IfElse(_ => queues,
                wait => wait.Then(c => c.Saga.WaitForSlot(now())).TransitionTo(queued),
                go => go.Publish(c => c.Saga.PrepareCommand()).TransitionTo(initializing));

    /// <summary>Towards more traffic (<see cref="RolloutState.Advance"/>): the next step, waiting on its weight, or the
    /// pre-rollout hooks first (a check due now, nothing to write). Follow it with <see cref="ShiftWeight{T}"/>.</summary>
    public static EventActivityBinder<RolloutState, T> Advance<T>(this EventActivityBinder<RolloutState, T> binder,
        Func<BehaviorContext<RolloutState, T>, string> reason, Func<DateTimeOffset> now) where T : class =>
        binder.Then(c => c.Saga.Advance(reason(c), now()));

    /// <summary>The weight the rollout waits on, written now (<see cref="ShiftWeightActivity"/>) and then as
    /// <see cref="WeightShifted{T}"/>; if the write failed, the weight command goes to the worker instead.</summary>
    public static EventActivityBinder<RolloutState, T> ShiftWeight<T>(this EventActivityBinder<RolloutState, T> binder,
        Func<DateTimeOffset> now, State approval) where T : class =>
        binder.If(c => c.Saga.Pending == PendingWork.Weight, shift => shift
            .Activity(x => x.OfInstanceType<ShiftWeightActivity>())
            .IfElse(c => c.Saga.Pending == null,
                applied => applied.WeightShifted(now, approval),
                failed => failed.Publish(c => c.Saga.WeightCommand())));

    /// <summary>A weight just applied (here or by the worker): announced, and a person asked at an approval weight.</summary>
    public static EventActivityBinder<RolloutState, T> WeightShifted<T>(this EventActivityBinder<RolloutState, T> binder,
        Func<DateTimeOffset> now, State approval) where T : class =>
        binder
            .Announce(now)
            .If(c => c.Saga.GateAtCurrentWeight(), gate => gate
                .Then(c => c.Saga.Note($"waiting for approval at {c.Saga.AppliedWeight}%", now()))
                .Publish(c => c.Saga.AwaitingApproval(now()))
                .TransitionTo(approval));
}

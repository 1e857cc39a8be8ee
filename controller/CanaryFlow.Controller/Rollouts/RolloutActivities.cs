using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Steps of the state machine's table used in more than one row.</summary>
public static class RolloutActivities
{
    /// <summary>Towards more traffic (<see cref="RolloutState.Advance"/>): the next step's weight command, or the
    /// pre-rollout hooks first (a check due now, so no command is sent).</summary>
    public static EventActivityBinder<RolloutState, T> Advance<T>(this EventActivityBinder<RolloutState, T> binder,
        Func<BehaviorContext<RolloutState, T>, string> reason, Func<DateTimeOffset> now) where T : class =>
        binder
            .Then(c => c.Saga.Advance(reason(c), now()))
            .If(c => c.Saga.Pending == PendingWork.Weight, weight => weight.Publish(c => c.Saga.WeightCommand()));
}

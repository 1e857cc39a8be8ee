using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Publishes a <see cref="RolloutTransitioned"/> snapshot on every change of phase, and on
/// changes within a phase that observers care about (weight applied, failed check).</summary>
internal sealed class TransitionAnnouncer(TimeProvider clock) : IStateObserver<RolloutState>
{
    public Task StateChanged(BehaviorContext<RolloutState> context, State currentState, State previousState) =>
        context.AnnounceAsync(previousState?.Name ?? "Initial", currentState.Name, clock.GetUtcNow());
}

internal static class TransitionAnnouncements
{
    public static Task AnnounceAsync(this BehaviorContext<RolloutState> context, string from, string to, DateTimeOffset now)
    {
        context.Saga.TransitionCount++;
        return context.Publish(context.Saga.Transition(from, to, now));
    }

    public static EventActivityBinder<RolloutState, T> Announce<T>(this EventActivityBinder<RolloutState, T> binder, Func<DateTimeOffset> now)
        where T : class =>
        binder.ThenAsync(c => c.AnnounceAsync(c.Saga.CurrentState, c.Saga.CurrentState, now()));
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Hooks;

/// <summary>
/// The hooks that follow transitions and change nothing: <c>rollback</c> when a rollback starts, <c>post-rollout</c>
/// once the rollout has Succeeded or Failed, <c>event</c> on every transition (as a notification channel would).
/// Their outcomes are recorded like every hook's. The hooks come from the target's durable rollout state; the delivery
/// header is the same for a redelivered transition, so a receiver can dedupe a call repeated after a restart.
/// </summary>
public sealed class HookTransitionConsumer(HookRunner runner, IRolloutStore store) : IConsumer<RolloutTransitioned>
{
    public async Task Consume(ConsumeContext<RolloutTransitioned> context)
    {
        var t = context.Message;
        var types = TypesFor(t);
        var state = await store.LoadAsync(t.CorrelationId, context.CancellationToken);
        // The hooks of the Canary as it is now: a revision queued behind this rollout may have started by the time its
        // last transition is delivered (the same rollout record, a newer plan), and this rollout's post-rollout hooks
        // must still run. Flagger too calls the webhooks of the current spec.
        if (state?.Plan?.Hooks is not { Count: > 0 } hooks) return;
        var due = hooks.Where(h => types.Contains(h.Type)).ToList();
        await runner.RunAsync(due, HookCall.For(t), context, context.CancellationToken);
    }

    public static IReadOnlyList<string> TypesFor(RolloutTransitioned t)
    {
        var types = new List<string> { HookTypes.Event };
        if (t.FromPhase != t.Phase && t.Phase == RolloutPhases.RollingBack) types.Add(HookTypes.Rollback);
        if (t.FromPhase != t.Phase && t.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed) types.Add(HookTypes.PostRollout);
        return types;
    }
}

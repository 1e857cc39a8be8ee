using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Writes the weight of the step the rollout just entered, inside the saga's own message, instead of sending
/// <c>SetCanaryWeight</c> to a worker and waiting for its <c>TrafficShifted</c> (issue 15: that round trip was two of a
/// step's five publishes and a third of its check → weight time). Crash-resume stays exact: the message that led here
/// is acknowledged only after the state (with the weight applied) is saved, and a weight write is idempotent, so a
/// crash or a failed save before that repeats the same write. If the router fails (after its own retries), the rollout
/// keeps waiting on the weight and the command goes to <see cref="Workers.SetCanaryWeightConsumer"/>, as before.
/// </summary>
public sealed class ShiftWeightActivity(ITrafficRouter router, TimeProvider clock, ILogger<ShiftWeightActivity> log)
    : IStateMachineActivity<RolloutState>
{
    public async Task Execute(BehaviorContext<RolloutState> context, IBehavior<RolloutState> next)
    {
        await ShiftAsync(context);
        await next.Execute(context);
    }

    public async Task Execute<T>(BehaviorContext<RolloutState, T> context, IBehavior<RolloutState, T> next) where T : class
    {
        await ShiftAsync(context);
        await next.Execute(context);
    }

    private async Task ShiftAsync(BehaviorContext<RolloutState> context)
    {
        var command = context.Saga.WeightCommand();
        try
        {
            await router.SetWeightsAsync(command.Target, command.Weight, command.Mirror, context.CancellationToken);
            context.Saga.WeightApplied(command.Weight, clock.GetUtcNow(), context.Saga.LastReason); // "analysis passed; step 2/10: canary weight 20%"
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Still waiting on the weight (Pending): the table hands the command to the worker, which retries and reports.
            log.LogWarning(e, "Setting canary weight {Weight}% for {Target} failed; handing it to the weight worker", command.Weight, command.Target);
        }
    }

    public Task Faulted<TException>(BehaviorExceptionContext<RolloutState, TException> context, IBehavior<RolloutState> next)
        where TException : Exception => next.Faulted(context);

    public Task Faulted<T, TException>(BehaviorExceptionContext<RolloutState, T, TException> context, IBehavior<RolloutState, T> next)
        where T : class where TException : Exception => next.Faulted(context);

    public void Probe(ProbeContext context) => context.CreateScope("shiftWeight");

    public void Accept(StateMachineVisitor visitor) => visitor.Visit(this);
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>Carries out <see cref="PrepareCanary"/>: stable and routing exist, canary available. Does not wait for the
/// canary: while it rolls out, the command is sent again by the ticker (<see cref="WorkUnderWay"/>).</summary>
public sealed class PrepareCanaryConsumer(IWorkloadController workloads, TimeProvider clock) : IConsumer<PrepareCanary>
{
    public async Task Consume(ConsumeContext<PrepareCanary> context)
    {
        var m = context.Message;
        var result = await workloads.PrepareCanaryAsync(m.Target, m.Revision, context.CancellationToken);
        if (result.Succeeded)
            await context.Publish(new CanaryReady(m.CorrelationId, m.RolloutId, m.Sequence, clock.GetUtcNow()));
        else if (!result.InProgress)
            await context.Publish(new CanaryNotReady(m.CorrelationId, m.RolloutId, m.Sequence, result.Reason, clock.GetUtcNow()));
        else if (await WorkUnderWay.PastDeadlineAsync(context, m.CorrelationId, m.RolloutId, m.Sequence, m.AppliedAt, result, clock.GetUtcNow()) is { } late)
            await context.Publish(new CanaryNotReady(m.CorrelationId, m.RolloutId, m.Sequence, late, clock.GetUtcNow()));
    }
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>Carries out <see cref="PrepareCanary"/>: stable and routing exist, canary available.</summary>
public sealed class PrepareCanaryConsumer(IWorkloadController workloads, TimeProvider clock) : IConsumer<PrepareCanary>
{
    public async Task Consume(ConsumeContext<PrepareCanary> context)
    {
        var m = context.Message;
        var result = await workloads.PrepareCanaryAsync(m.Target, m.Revision, context.CancellationToken);
        if (result.Succeeded)
            await context.Publish(new CanaryReady(m.CorrelationId, m.RolloutId, m.Sequence, clock.GetUtcNow()));
        else
            await context.Publish(new CanaryNotReady(m.CorrelationId, m.RolloutId, m.Sequence, result.Reason, clock.GetUtcNow()));
    }
}

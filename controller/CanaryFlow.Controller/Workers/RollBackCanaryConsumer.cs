using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>Carries out <see cref="RollBackCanary"/>: 100% to stable at once, then the canary to zero replicas.</summary>
public sealed class RollBackCanaryConsumer(IWorkloadController workloads, ITrafficRouter router, TimeProvider clock)
    : IConsumer<RollBackCanary>
{
    public async Task Consume(ConsumeContext<RollBackCanary> context)
    {
        var m = context.Message;
        await router.SetWeightsAsync(m.Target, 0, context.CancellationToken);
        await workloads.ScaleCanaryToZeroAsync(m.Target, context.CancellationToken);
        await context.Publish(new RolloutRolledBack(m.CorrelationId, m.RolloutId, m.Target, m.Reason, m.Sequence, clock.GetUtcNow()));
    }
}

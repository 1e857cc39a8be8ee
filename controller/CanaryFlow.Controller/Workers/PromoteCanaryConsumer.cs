using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>
/// Carries out <see cref="PromoteCanary"/>: stable takes the new revision and must be available
/// before any traffic moves to it; then 100% to stable and the canary scales to zero. If stable
/// does not become available within its deadline, traffic stays on the healthy canary. While stable
/// rolls out, the command is sent again by the ticker (<see cref="WorkUnderWay"/>).
/// </summary>
public sealed class PromoteCanaryConsumer(IWorkloadController workloads, ITrafficRouter router, TimeProvider clock)
    : IConsumer<PromoteCanary>
{
    public async Task Consume(ConsumeContext<PromoteCanary> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var result = await workloads.PromoteStableAsync(m.Target, m.Revision, ct);
        if (result.InProgress)
        {
            // Stable rolls out: no waiting here (the ticker sends the command again), unless past its deadline.
            if (await WorkUnderWay.PastDeadlineAsync(context, m.CorrelationId, m.RolloutId, m.Sequence, m.AppliedAt, result, clock.GetUtcNow()) is { } late)
                await context.Publish(new PromotionFailed(m.CorrelationId, m.RolloutId, m.Sequence, late, clock.GetUtcNow()));
            return;
        }
        if (!result.Succeeded)
        {
            await context.Publish(new PromotionFailed(m.CorrelationId, m.RolloutId, m.Sequence, result.Reason, clock.GetUtcNow()));
            return;
        }

        await router.SetWeightsAsync(m.Target, 0, ct);
        await workloads.ScaleCanaryToZeroAsync(m.Target, ct);
        await context.Publish(new RolloutPromoted(m.CorrelationId, m.RolloutId, m.Target, m.Revision, m.Sequence, clock.GetUtcNow()));
    }
}

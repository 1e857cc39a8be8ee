using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Makes every transition durable before anything it sent leaves the process (the in-memory outbox
/// releases messages only after this filter returns). If the save fails, the in-memory state is put
/// back as it was and the message is retried, so memory is never ahead of the store.
/// The "before" is a field copy and the change test a field compare (no JSON: it ran three JSON passes
/// per saga message, changed or not); the store serialises once, when there is something to save.
/// </summary>
public sealed class PersistRolloutFilter(IRolloutStore store) : IFilter<SagaConsumeContext<RolloutState>>
{
    public async Task Send(SagaConsumeContext<RolloutState> context, IPipe<SagaConsumeContext<RolloutState>> next)
    {
        var saga = context.Saga;
        var before = saga.Clone();

        await next.Send(context);

        if (saga.SameAs(before)) return; // nothing changed: a stale or duplicate message

        saga.Version = before.Version + 1;
        try
        {
            await store.SaveAsync(saga, before.Version, context.CancellationToken);
        }
        catch
        {
            saga.CopyFrom(before);
            throw;
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("persistRollout");
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Kubernetes.Leadership;
using MassTransit;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// Every message consumed from a partition's queue acts for that partition (<see cref="PartitionScope"/>): the write
/// fence lets its Kubernetes writes, and its sends and publishes (<see cref="PartitionPublishFence"/>), through only while
/// this replica holds the partition's Lease. On top of that, for one holding (<see cref="PartitionHolding"/>):
/// <list type="bullet">
/// <item>a check asked for twice runs once (<see cref="CheckTokens"/>): the copy that comes second is dropped;</item>
/// <item>a message this replica may no longer act on (the partition was lost before or while it ran) is not lost to the
/// rollout in the _error queue: a copy, headers and all, goes back into the partition's queue for the next holder
/// (commands are desired state and replies carry sequence numbers). A delivery whose consume faulted is still moved to
/// the _error queue by MassTransit, as a record.</item>
/// </list>
/// </summary>
internal sealed class PartitionGuardFilter(PartitionHolding holding, IPartitionOwnership ownership, ISendEndpointProvider bus, TimeProvider time, ILogger log)
    : IFilter<ConsumeContext>
{
    private int Partition => holding.Partition;

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        var delivery = PartitionReceiveFilter.CurrentDelivery;
        if (!ownership.Owns(Partition)) { await HandBackAsync(context, delivery); return; }
        var check = CheckOf(context);
        try
        {
            if (check is { } c && !holding.Checks.TryBegin(c, delivery))
            {
                log.LogInformation("Partition {Partition}: check {Check} already run or running here; this copy is dropped", Partition, c);
                return;
            }
            using (PartitionScope.Enter(Partition)) await next.Send(context);
            if (check is { } done) holding.Checks.Finished(done);
        }
        catch (Exception) when (!ownership.Owns(Partition))
        {
            if (check is { } failed) holding.Checks.Failed(failed);
            await HandBackAsync(context, delivery);
        }
        catch (Exception)
        {
            if (check is { } failed) holding.Checks.Failed(failed);
            throw;
        }
    }

    private static (Guid, string, long)? CheckOf(ConsumeContext context) =>
        context.TryGetMessage<AnalysisDue>(out var due) ? CheckTokens.Of(due.Message)
        : context.TryGetMessage<HooksDue>(out var hooks) ? CheckTokens.Of(hooks.Message)
        : null;

    /// <summary>Once per delivery (this filter runs once per consumer of the message).</summary>
    private async Task HandBackAsync(ConsumeContext context, ulong delivery)
    {
        if (!holding.HandingBack(delivery)) return;
        var message = RolloutPartitions.Messages.FirstOrDefault(m => context.HasMessageType(m.Type));
        if (message is null) return; // nothing of ours: nothing to keep
        // The queue is stopping: do not spin on it meanwhile. The copy goes through the bus, not the consume context: a send
        // through the context of a consume that faulted never left (the faulted delivery itself goes to the _error queue),
        // and a kill run lost 6 rollout requests of 1,000 that way, taken just after their partition was handed over
        // (PartitionMoveTests). Nor does it take the consume's token, which the queue's stop cancels.
        await Task.Delay(100, CancellationToken.None);
        var endpoint = await bus.GetSendEndpoint(new Uri($"exchange:{PartitionTopology.QueueName(Partition)}"));
        await BoundedPublish.Bounded(ct => message.ForwardAsync(context, endpoint, ct), $"handing back {message.Type.Name}", time, CancellationToken.None);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("partitionGuard");
}

using CanaryFlow.Controller.Kubernetes.Leadership;
using MassTransit;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// The write fence, for the bus: a message sent or published while acting for a partition
/// (<see cref="PartitionScope"/>: a consumer of its queue) leaves only while this replica holds that partition. A check
/// that finishes after its replica lost the partition therefore never delivers its result: the next holder, which takes
/// the partition only after this fence closed, finds the check still due and runs it (the consume fails, and its message
/// goes back into the partition's queue). Without it a late result could reach the saga after the next holder's ticker
/// had asked for the same check again.
/// </summary>
public sealed class PartitionPublishFence(IPartitionOwnership ownership) : IFilter<SendContext>, IFilter<PublishContext>
{
    public Task Send(SendContext context, IPipe<SendContext> next) => Allowed() ? next.Send(context) : Refused(context);

    public Task Send(PublishContext context, IPipe<PublishContext> next) => Allowed() ? next.Send(context) : Refused(context);

    private bool Allowed() => PartitionScope.Current is not { } p || ownership.Owns(p);

    private static Task Refused(SendContext context) =>
        throw new NotLeaderException("send", $"{context.DestinationAddress} (partition {PartitionScope.Current} no longer held)");

    public void Probe(ProbeContext context) => context.CreateFilterScope("partitionPublishFence");
}

using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// Every delivery from a partition's queue, once each, before it is read (MassTransit runs consume filters once per
/// consumer of a message; the barrier needs each delivery once, and the marker has no consumer at all): tracks the
/// deliveries the holding's barrier waits for, and passes the barrier when the holding's <see cref="PartitionTaken"/>
/// marker arrives (see <see cref="PartitionHolding"/>). The marker is acknowledged here and goes no further.
/// </summary>
internal sealed class PartitionReceiveFilter(PartitionHolding holding, TimeSpan barrierWithin, ILogger log) : IFilter<ReceiveContext>
{
    /// <summary>The transport header that marks a <see cref="PartitionTaken"/> marker, with its holding's id.</summary>
    public const string MarkerHeader = "CanaryFlow-Partition-Taken";

    /// <summary>The transport header that marks a <see cref="PartitionHeartbeat"/>, with its holding's id.</summary>
    public const string HeartbeatHeader = "CanaryFlow-Partition-Heartbeat";

    private static readonly AsyncLocal<ulong?> Delivery = new();

    /// <summary>The delivery tag of the message being consumed (for the consume filters below this one); 0 when none.</summary>
    public static ulong CurrentDelivery => Delivery.Value ?? 0;

    public async Task Send(ReceiveContext context, IPipe<ReceiveContext> next)
    {
        var tag = context is RabbitMqBasicConsumeContext rabbit ? rabbit.DeliveryTag : (ulong?)null;
        holding.Heard();
        if (context.TransportHeaders.TryGetHeader(HeartbeatHeader, out _))
        {
            Consumed(tag); // any holder's: the queue reaches this consumer, which is all a heartbeat is for
            return;
        }
        if (context.TransportHeaders.TryGetHeader(MarkerHeader, out var marker))
        {
            if (Guid.TryParse(marker?.ToString(), out var id) && id == holding.Id) await PassAsync(tag, context.CancellationToken);
            else Consumed(tag); // a marker of an earlier holding (this replica's or another's): nothing to do
            return;
        }
        if (tag is { } started) holding.Started(started);
        Delivery.Value = tag;
        try { await next.Send(context); }
        finally
        {
            Delivery.Value = null;
            if (tag is { } ended) holding.Ended(ended);
        }
    }

    /// <summary>A delivery with nothing to consume counts as consumed for the barrier (which waits for every earlier tag).</summary>
    private void Consumed(ulong? tag)
    {
        if (tag is not { } done) return;
        holding.Started(done);
        holding.Ended(done);
    }

    private async Task PassAsync(ulong? tag, CancellationToken cancellationToken)
    {
        if (tag is not { } marker)
        {
            log.LogInformation("Partition {Partition}: taken (no delivery order to wait for); ticking its rollouts", holding.Partition);
            holding.Act();
            return;
        }
        using var within = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        within.CancelAfter(barrierWithin);
        try
        {
            await holding.PassAsync(marker, within.Token);
            log.LogInformation("Partition {Partition}: every message sent before this replica took it is consumed; ticking its rollouts", holding.Partition);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            log.LogWarning("Partition {Partition}: earlier messages still unconsumed after {Within}; ticking its rollouts anyway", holding.Partition, barrierWithin);
            holding.Act();
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("partitionBarrier");
}

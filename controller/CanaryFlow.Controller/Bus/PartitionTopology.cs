using CanaryFlow.Controller.Hosting.Sharding;
using MassTransit;
using RabbitMQ.Client;

namespace CanaryFlow.Controller.Bus;

/// <summary>
/// RabbitMQ topology for sharded replicas. Every message about one rollout (<see cref="RolloutPartitions.MessageTypes"/>)
/// is published to its type's exchange as a direct exchange, with the rollout's partition number as routing key; each
/// partition has one queue (<see cref="QueueName"/>) bound to every such exchange with its own number, declared with
/// single-active-consumer, so that the broker delivers a partition's messages to one consumer at a time, in order.
/// Publishers need not know: the routing key is set by the send topology.
/// </summary>
public static class PartitionTopology
{
    public static string QueueName(int partition) => $"canaryflow-partition-{partition}";

    /// <summary>Bus-wide: direct exchanges and routing keys for the partitioned message types.</summary>
    public static void RouteByPartition(IRabbitMqBusFactoryConfigurator cfg, int partitions)
    {
        foreach (var type in RolloutPartitions.MessageTypes)
            typeof(PartitionTopology).GetMethod(nameof(Route), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(type).Invoke(null, [cfg, partitions]);
    }

    private static void Route<T>(IRabbitMqBusFactoryConfigurator cfg, int partitions) where T : class
    {
        cfg.Publish<T>(p => p.ExchangeType = ExchangeType.Direct);
        cfg.Send<T>(s => s.UseRoutingKeyFormatter(c => RolloutPartitions.Of(RolloutPartitions.KeyOf(c.Message), partitions).ToString()));
    }

    /// <summary>One partition's queue: single active consumer, quorum when asked, bound for its partition number only.</summary>
    public static void ConfigureQueue(IRabbitMqReceiveEndpointConfigurator e, int partition, bool quorum)
    {
        e.ConfigureConsumeTopology = false;
        e.SingleActiveConsumer = true;
        if (quorum) e.SetQuorumQueue();
        foreach (var type in RolloutPartitions.MessageTypes)
            typeof(PartitionTopology).GetMethod(nameof(Bind), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(type).Invoke(null, [e, partition.ToString()]);
    }

    private static void Bind<T>(IRabbitMqReceiveEndpointConfigurator e, string key) where T : class =>
        e.Bind<T>(b =>
        {
            b.ExchangeType = ExchangeType.Direct;
            b.RoutingKey = key;
        });
}

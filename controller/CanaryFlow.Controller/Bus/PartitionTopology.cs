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
    public static string QueueName(int partition) => $"{QueuePrefix}{partition}";

    private const string QueuePrefix = "canaryflow-partition-";

    /// <summary>The partition whose queue an endpoint address names (its last path segment), if any. Read for every
    /// consumed message (AsksTakenObserver): spans, no copies.</summary>
    public static bool TryPartitionOf(Uri? address, out int partition)
    {
        partition = -1;
        if (address is null) return false;
        var path = address.AbsolutePath.AsSpan();
        var name = path[(path.LastIndexOf('/') + 1)..];
        return name.StartsWith(QueuePrefix, StringComparison.Ordinal) &&
               int.TryParse(name[QueuePrefix.Length..], System.Globalization.NumberStyles.None, null, out partition);
    }

    /// <summary>Bus-wide: direct exchanges and routing keys for the partitioned message types.</summary>
    public static void RouteByPartition(IRabbitMqBusFactoryConfigurator cfg, int partitions)
    {
        foreach (var message in RolloutPartitions.Messages) message.Route(cfg, partitions);
    }

    /// <summary>One partition's queue: single active consumer, quorum when asked, bound for its partition number only.</summary>
    public static void ConfigureQueue(IRabbitMqReceiveEndpointConfigurator e, int partition, bool quorum)
    {
        e.ConfigureConsumeTopology = false;
        e.SingleActiveConsumer = true;
        if (quorum) e.SetQuorumQueue();
        var key = partition.ToString();
        foreach (var message in RolloutPartitions.Messages) message.Bind(e, key);
    }

    /// <summary>
    /// Declares every partition's queue and its bindings before any replica consumes it, exactly as MassTransit declares
    /// them when the queue is connected (type exchange, direct → routing key → the queue's fanout exchange → the queue):
    /// a rollout message published for a partition nobody has consumed yet would otherwise reach an exchange with no
    /// binding for its key, and be dropped. Idempotent; every replica does it at start.
    /// </summary>
    public static async Task DeclareAsync(BusOptions options, int partitions, CancellationToken cancellationToken)
    {
        var r = options.RabbitMq;
        var nodes = r.Nodes();
        var factory = new ConnectionFactory
        {
            UserName = r.Username, Password = r.Password, VirtualHost = r.VirtualHost,
            ClientProvidedName = "canaryflow-partition-topology",
        };
        var endpoints = nodes.Select(n => new AmqpTcpEndpoint(n.Host, n.Port,
            r.UseTls ? new SslOption(r.TlsServerName ?? n.Host, enabled: true) : new SslOption())).ToList();
        await using var connection = await factory.CreateConnectionAsync(endpoints, cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var exchanges = RolloutPartitions.MessageTypes.Select(ExchangeName).ToList();
        foreach (var exchange in exchanges)
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        var arguments = new Dictionary<string, object?> { ["x-single-active-consumer"] = true };
        if (r.QuorumQueues) arguments["x-queue-type"] = "quorum";
        for (var p = 0; p < partitions; p++)
        {
            var queue = QueueName(p);
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: arguments, cancellationToken: cancellationToken);
            await channel.QueueBindAsync(queue, queue, "", cancellationToken: cancellationToken);
            foreach (var exchange in exchanges)
                await channel.ExchangeBindAsync(queue, exchange, p.ToString(), cancellationToken: cancellationToken);
        }
    }

    /// <summary>MassTransit's exchange name for a (non-generic) message type: "Namespace:Name".</summary>
    public static string ExchangeName(Type type) => $"{type.Namespace}:{type.Name}";
}

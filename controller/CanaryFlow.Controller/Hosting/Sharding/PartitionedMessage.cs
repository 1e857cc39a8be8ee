using CanaryFlow.Contracts;
using MassTransit;
using MassTransit.Serialization;
using RabbitMQ.Client;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// What sharding does with one message type about one rollout, written once as generic code: MassTransit's topology
/// and forwarding calls are generic in the message type. Each type's instance is made once, by reflection, when
/// <see cref="RolloutPartitions.MessageTypes"/> is first read; after that nothing is looked up per message or per queue.
/// </summary>
public abstract class PartitionedMessage
{
    public abstract Type Type { get; }

    /// <summary>The rollout key (the saga's correlation id) of a message of this type.</summary>
    public abstract Guid KeyOf(object message);

    /// <summary>Bus-wide: a direct exchange, with the rollout's partition number as routing key.</summary>
    public abstract void Route(IRabbitMqBusFactoryConfigurator cfg, int partitions);

    /// <summary>A partition's queue: bound to this type's exchange for its own partition number only.</summary>
    public abstract void Bind(IRabbitMqReceiveEndpointConfigurator e, string partitionKey);

    /// <summary>Sends the message being consumed, headers and all, to <paramref name="endpoint"/>, on the caller's token
    /// (not the consume's); false when it is not of this type.</summary>
    public abstract Task<bool> ForwardAsync(ConsumeContext context, ISendEndpoint endpoint, CancellationToken cancellationToken);

    internal static PartitionedMessage For(Type type) =>
        (PartitionedMessage)Activator.CreateInstance(typeof(PartitionedMessage<>).MakeGenericType(type))!;
}

internal sealed class PartitionedMessage<T> : PartitionedMessage where T : class
{
    private readonly Func<T, Guid> _key = typeof(T) == typeof(GetRolloutStatus)
        ? m => RolloutIds.ForTarget(((GetRolloutStatus)(object)m).Target)
        : (typeof(T).GetProperty("CorrelationId")?.GetMethod ?? throw new ArgumentException($"{typeof(T).Name} is not about one rollout"))
            .CreateDelegate<Func<T, Guid>>();

    public override Type Type => typeof(T);

    public override Guid KeyOf(object message) => _key((T)message);

    public override void Route(IRabbitMqBusFactoryConfigurator cfg, int partitions)
    {
        cfg.Publish<T>(p => p.ExchangeType = ExchangeType.Direct);
        cfg.Send<T>(s => s.UseRoutingKeyFormatter(c => RolloutPartitions.Of(_key(c.Message), partitions).ToString()));
    }

    public override void Bind(IRabbitMqReceiveEndpointConfigurator e, string partitionKey) =>
        e.Bind<T>(b =>
        {
            b.ExchangeType = ExchangeType.Direct;
            b.RoutingKey = partitionKey;
        });

    public override async Task<bool> ForwardAsync(ConsumeContext context, ISendEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (!context.TryGetMessage<T>(out var typed)) return false;
        await endpoint.Send(typed.Message, new ForwardMessagePipe<T>(typed), cancellationToken);
        return true;
    }
}

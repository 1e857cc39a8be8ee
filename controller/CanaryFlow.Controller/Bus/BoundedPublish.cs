using MassTransit;

namespace CanaryFlow.Controller.Bus;

/// <summary>
/// Publishes and sends made outside a consumer (the ticker, the Deployment watch, the partition marker), each bounded
/// in time. RabbitMQ.Client 7.2 can leave a publish waiting forever for its broker confirm when the connection it left
/// on is lost (rabbitmq-dotnet-client#1930, still seen on 7.2.2 with MassTransit 8.5). A consumer's publish ends with
/// its delivery, but these have nothing else to end them. A kill run lost a broker node while one replica's ticker was
/// publishing, and that ticker never ticked again: 163 rollouts of 1,000 stood still with their partitions held.
/// A publish past the bound fails with a <see cref="TimeoutException"/>. Its message may still have reached the queue,
/// so callers treat it as possibly sent: every ask is idempotent, and the ticker asks again.
/// </summary>
public static class BoundedPublish
{
    /// <summary>Far above a confirm on a loaded broker (milliseconds), far below a step's interval.</summary>
    public static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    public static Task PublishWithin(this IPublishEndpoint endpoint, object message, TimeProvider time, CancellationToken cancellationToken) =>
        Bounded(ct => endpoint.Publish(message, message.GetType(), ct), $"publishing {message.GetType().Name}", time, cancellationToken);

    public static Task SendWithin<T>(this ISendEndpoint endpoint, T message, Action<SendContext<T>> configure, TimeProvider time,
        CancellationToken cancellationToken) where T : class =>
        Bounded(ct => endpoint.Send(message, configure, ct), $"sending {typeof(T).Name}", time, cancellationToken);

    /// <summary>Any other send, given the bounded token to send on.</summary>
    public static async Task Bounded(Func<CancellationToken, Task> publish, string what, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(Within, time);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try { await publish(bounded.Token); }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{what}: no broker confirm within {Within.TotalSeconds:0} s");
        }
    }
}

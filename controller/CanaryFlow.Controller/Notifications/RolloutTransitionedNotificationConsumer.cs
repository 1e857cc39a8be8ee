using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications.Delivery;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications;

/// <summary>
/// Fans each transition out to the channels configured for its target. Only queues: delivery happens
/// on the channels' workers, so this consumer is fast and a redelivery is harmless (the ledger keys
/// each message by RolloutId, Version and channel).
/// </summary>
public sealed class RolloutTransitionedNotificationConsumer(NotificationDispatcher dispatcher, IOptions<NotificationOptions> options)
    : IConsumer<RolloutTransitioned>
{
    public Task Consume(ConsumeContext<RolloutTransitioned> context)
    {
        var transition = context.Message;
        foreach (var channel in options.Value.ChannelsFor(transition.Target.ToString()))
            dispatcher.Enqueue(new Notification(Notification.KeyFor(transition, channel), channel, transition));
        return Task.CompletedTask;
    }
}

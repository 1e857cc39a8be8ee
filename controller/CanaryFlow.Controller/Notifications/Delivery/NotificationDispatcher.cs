using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>
/// One queue (<see cref="ChannelQueue"/>) and one worker per channel. <see cref="Enqueue"/> never waits, so the
/// consumer of RolloutTransitioned returns at once however slow or broken a channel is; each worker
/// delivers its channel's messages in order through <see cref="INotifier"/>. A message whose channel is down
/// stays at the head of its queue (so order per rollout holds) and is tried in rounds on the
/// <see cref="RedeliverySchedule"/> until it is taken or reaches <see cref="NotificationOptions.MaxAge"/>.
/// </summary>
public sealed class NotificationDispatcher : BackgroundService
{
    private readonly NotificationOptions _options;
    private readonly NotificationLedger _ledger;
    private readonly Dictionary<string, INotifier> _notifiers;
    private readonly ILogger<NotificationDispatcher> _logger;
    private readonly TimeProvider _time;
    private readonly RedeliverySchedule _schedule;
    private readonly Dictionary<string, ChannelQueue> _queues;

    public NotificationDispatcher(IOptions<NotificationOptions> options, NotificationLedger ledger, IEnumerable<INotifier> notifiers,
        ILogger<NotificationDispatcher> logger, TimeProvider time)
    {
        (_options, _ledger, _logger, _time) = (options.Value, ledger, logger, time);
        _schedule = new RedeliverySchedule(_options);
        _notifiers = notifiers.ToDictionary(n => n.Kind, StringComparer.Ordinal);
        _queues = _options.Channels.ToDictionary(c => c.Key, c => new ChannelQueue(c.Key, c.Value.QueueCapacity, ledger), StringComparer.Ordinal);
        // Messages queued before a restart but never sent go out first.
        foreach (var pending in _ledger.Pending) Offer(pending);
    }

    /// <returns>False when the message is a duplicate (already queued or sent) or its channel is unknown.</returns>
    public bool Enqueue(Notification notification)
    {
        if (!_queues.ContainsKey(notification.ChannelName))
        {
            _logger.LogWarning("No notification channel named {Channel} is configured", notification.ChannelName);
            return false;
        }
        if (_ledger.TryQueue(notification)) return Offer(notification);
        NotificationMetrics.Messages.WithLabels(notification.ChannelName, "duplicate").Inc();
        return false;
    }

    private bool Offer(Notification notification)
    {
        if (!_queues.TryGetValue(notification.ChannelName, out var queue)) { _ledger.MarkDone(notification.Key); return false; }
        if (!queue.Offer(notification))
            _logger.LogDebug("Notification queue of channel {Channel} is full; the message for {Target} v{Version} waits in the ledger",
                notification.ChannelName, notification.Transition.Target, notification.Transition.Version);
        return true;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_queues.Select(q => RunChannelAsync(q.Key, q.Value, stoppingToken)));

    private async Task RunChannelAsync(string name, ChannelQueue queue, CancellationToken stoppingToken)
    {
        var channel = _options.Channels[name];
        var notifier = _notifiers[channel.Kind];
        try
        {
            while (true)
            {
                var notification = await queue.TakeAsync(stoppingToken);
                Finish(notification, await DeliverAsync(notification, channel, notifier, stoppingToken));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The message in hand stays queued in the ledger: sent after the restart.
        }
    }

    /// <returns>The result for the metric: delivered, failed (refused for good) or expired (retried until MaxAge).</returns>
    private async Task<string> DeliverAsync(Notification notification, ChannelOptions channel, INotifier notifier, CancellationToken stoppingToken)
    {
        var (name, t) = (notification.ChannelName, notification.Transition);
        for (var round = 1; ; round++)
        {
            try
            {
                await notifier.NotifyAsync(notification, channel, stoppingToken);
                return "delivered";
            }
            catch (NotificationDeliveryException e) when (e.Transient)
            {
                var age = _time.GetUtcNow() - (_ledger.QueuedAt(notification.Key) ?? _time.GetUtcNow());
                if (age >= _options.MaxAge)
                {
                    _logger.LogError("Gave up the notification to channel {Channel} for {Target} v{Version} after {Rounds} rounds over {Age}: {Error}",
                        name, t.Target, t.Version, round, age, e.Message);
                    return "expired";
                }
                var wait = _schedule.DelayAfter(round);
                if (age + wait > _options.MaxAge) wait = _options.MaxAge - age; // one last round at MaxAge
                _logger.LogWarning("Notification to channel {Channel} for {Target} v{Version} not taken (round {Round}, {Error}); next round in {Wait}",
                    name, t.Target, t.Version, round, e.Message, wait);
                await Task.Delay(wait, _time, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Refused for good (e.g. 400, 404): the message type only, never the URL or secret.
                _logger.LogWarning("Notification to channel {Channel} for {Target} v{Version} failed: {Error}",
                    name, t.Target, t.Version, e.GetType().Name + ": " + e.Message);
                return "failed";
            }
        }
    }

    private void Finish(Notification notification, string result)
    {
        NotificationMetrics.Messages.WithLabels(notification.ChannelName, result).Inc(); // counted before done, so whoever sees it done sees it counted
        _ledger.MarkDone(notification.Key);
    }
}

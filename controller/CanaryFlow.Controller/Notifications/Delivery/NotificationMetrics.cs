using Prometheus;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>Notification outcomes per channel, for /metrics (a channel that only fails shows up here, not in the rollout).</summary>
public static class NotificationMetrics
{
    public static readonly Counter Messages = Metrics.CreateCounter(
        "canaryflow_notifications_total", "Notifications by channel and result (delivered, failed, expired, duplicate).", "channel", "result");
}

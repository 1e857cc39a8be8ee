using Prometheus;

namespace CanaryFlow.Controller.Triggers;

/// <summary>What the registry receivers did, for /metrics: a spike of "unauthorized" is worth an alert.</summary>
public static class TriggerMetrics
{
    public static readonly Counter Requests = Metrics.CreateCounter(
        "canaryflow_registry_webhook_requests_total", "Registry webhook requests by registry and result.", "registry", "result");

    public static readonly Counter ImagesSet = Metrics.CreateCounter(
        "canaryflow_registry_images_set_total", "Target images changed because of a registry push.");
}

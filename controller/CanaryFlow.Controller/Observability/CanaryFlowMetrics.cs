using Prometheus;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// The controller's own Prometheus metrics (served on <c>/metrics</c>). One instance per registry so
/// that tests can read a private registry; the host uses the default one. Other parts (webhooks,
/// notifiers) call <see cref="RecordWebhook"/> and <see cref="RecordNotification"/>.
/// </summary>
public sealed class CanaryFlowMetrics
{
    // Steps are minutes, rollouts up to hours: buckets from 1 s to ~4.5 h.
    private static readonly double[] DurationBuckets = Histogram.ExponentialBuckets(1, 3, 10);

    public CanaryFlowMetrics() : this(Metrics.DefaultRegistry) { }

    public CanaryFlowMetrics(CollectorRegistry registry)
    {
        Registry = registry;
        var f = Metrics.WithCustomRegistry(registry);
        RolloutsByPhase = f.CreateGauge("canaryflow_rollouts", "Rollouts known to this controller, by current phase.", "phase");
        CanaryWeight = f.CreateGauge("canaryflow_canary_weight_percent", "Canary traffic weight applied, per target.", "namespace", "target");
        AnalysisChecks = f.CreateCounter("canaryflow_analysis_checks_total", "Analysis checks by result (passed, failed, nodata, queryerror).", "namespace", "target", "result");
        StepDuration = f.CreateHistogram("canaryflow_step_duration_seconds", "Time a rollout spent at one canary weight before the next.",
            new HistogramConfiguration { LabelNames = ["namespace", "target"], Buckets = DurationBuckets });
        RolloutDuration = f.CreateHistogram("canaryflow_rollout_duration_seconds", "Time from start to the end of a rollout, by outcome.",
            new HistogramConfiguration { LabelNames = ["namespace", "target", "outcome"], Buckets = DurationBuckets });
        Webhooks = f.CreateCounter("canaryflow_webhook_requests_total", "Webhook requests received, by source and outcome.", "source", "outcome");
        Notifications = f.CreateCounter("canaryflow_notifications_total", "Notifications sent, by channel and outcome.", "channel", "outcome");
        ConsumerErrors = f.CreateCounter("canaryflow_bus_consumer_errors_total", "Bus messages whose consumer threw (each attempt), by message type.", "message_type");
        Transitions = f.CreateCounter("canaryflow_rollout_transitions_total", "Rollout transitions observed, by phase entered.", "phase");
    }

    public CollectorRegistry Registry { get; }
    public Gauge RolloutsByPhase { get; }
    public Gauge CanaryWeight { get; }
    public Counter AnalysisChecks { get; }
    public Histogram StepDuration { get; }
    public Histogram RolloutDuration { get; }
    public Counter Webhooks { get; }
    public Counter Notifications { get; }
    public Counter ConsumerErrors { get; }
    public Counter Transitions { get; }

    /// <param name="source">e.g. "dockerhub", "harbor", "alertmanager", "slack".</param>
    /// <param name="outcome">e.g. "accepted", "rejected", "unauthorized", "error".</param>
    public void RecordWebhook(string source, string outcome) => Webhooks.WithLabels(Label(source), Label(outcome)).Inc();

    /// <param name="channel">e.g. "slack", "teams".</param>
    /// <param name="outcome">e.g. "sent", "failed", "skipped".</param>
    public void RecordNotification(string channel, string outcome) => Notifications.WithLabels(Label(channel), Label(outcome)).Inc();

    public void RecordConsumerError(string messageType) => ConsumerErrors.WithLabels(Label(messageType)).Inc();

    // Label values come from callers and messages: bound their length so a bad value cannot blow up the series.
    internal static string Label(string? value) =>
        string.IsNullOrEmpty(value) ? "unknown" : value.Length <= 64 ? value : value[..64];
}

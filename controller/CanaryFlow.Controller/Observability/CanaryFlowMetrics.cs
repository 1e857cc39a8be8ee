using Prometheus;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// The controller's own Prometheus metrics (served on <c>/metrics</c>). One instance per registry so
/// that tests can read a private registry; the host uses the default one. Other parts (webhooks,
/// notifiers) call <see cref="RecordWebhook"/> and <see cref="RecordNotification"/>.
/// The per-target series (<see cref="CanaryWeightName"/>, <see cref="AnalysisChecksName"/>) are not prometheus-net
/// children: a child costs ~0.5 KB a series, ~1 KB a Canary at the least (issue 15: the aim is ~1 KB a Canary for the
/// whole controller). The <see cref="RolloutMetricsRecorder"/> keeps a few numbers a target and writes them at scrape
/// time (<see cref="ExportAsync"/>); prometheus-net 8 has no public custom collector to do that through the registry.
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
        // By namespace, not by target: 13 series a histogram child, and thousands of Canaries (issue 15). The dashboard
        // sums them over targets anyway.
        StepDuration = f.CreateHistogram("canaryflow_step_duration_seconds", "Time a rollout spent at one canary weight before the next.",
            new HistogramConfiguration { LabelNames = ["namespace"], Buckets = DurationBuckets });
        RolloutDuration = f.CreateHistogram("canaryflow_rollout_duration_seconds", "Time from start to the end of a rollout, by outcome.",
            new HistogramConfiguration { LabelNames = ["namespace", "outcome"], Buckets = DurationBuckets });
        Webhooks = f.CreateCounter("canaryflow_webhook_requests_total", "Webhook requests received, by source and outcome.", "source", "outcome");
        Notifications = f.CreateCounter("canaryflow_notifications_total", "Notifications sent, by channel and outcome.", "channel", "outcome");
        ConsumerErrors = f.CreateCounter("canaryflow_bus_consumer_errors_total", "Bus messages whose consumer threw (each attempt), by message type.", "message_type");
        Transitions = f.CreateCounter("canaryflow_rollout_transitions_total", "Rollout transitions observed, by phase entered.", "phase");
    }

    public const string CanaryWeightName = "canaryflow_canary_weight_percent";
    public const string CanaryWeightHelp = "Canary traffic weight applied, per target.";
    public const string AnalysisChecksName = "canaryflow_analysis_checks_total";
    public const string AnalysisChecksHelp = "Analysis checks by result (passed, failed, nodata, queryerror).";

    private volatile IScrapeTimeSeries[] _scrapeTime = [];

    public CollectorRegistry Registry { get; }

    /// <summary>Every metric name served: the registry's collectors and the families written at scrape time.</summary>
    public IReadOnlyList<string> MetricNames =>
    [
        .. GetType().GetProperties().Where(p => typeof(Collector).IsAssignableFrom(p.PropertyType)).Select(p => ((Collector)p.GetValue(this)!).Name),
        CanaryWeightName, AnalysisChecksName,
    ];

    /// <summary>Families written at each scrape from state their owner keeps (see <see cref="ExportAsync"/>).</summary>
    public void AddScrapeTimeSeries(IScrapeTimeSeries series)
    {
        lock (this) _scrapeTime = [.. _scrapeTime, series];
    }

    /// <summary>What <c>/metrics</c> serves: the families written at scrape time, then the registry's (whose
    /// OpenMetrics text ends with <c># EOF</c>, so it comes last; the order of families means nothing).</summary>
    public async Task ExportAsync(Stream to, ExpositionFormat format, CancellationToken ct = default)
    {
        var text = new MetricsText(to, format == ExpositionFormat.OpenMetricsText);
        try
        {
            foreach (var series in _scrapeTime) await series.WriteAsync(text, ct);
            await text.FlushAsync(ct);
        }
        finally { text.Release(); }
        await Registry.CollectAndExportAsTextAsync(to, format, ct);
    }
    public Gauge RolloutsByPhase { get; }
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

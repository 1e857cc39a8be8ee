using Prometheus;

namespace CanaryFlow.Sandbox.Workloads;

/// <summary>
/// The two Istio standard metrics as the sidecar's destination reporter exports them for one
/// workload. Each workload gets a registry of its own unless one is shared (a whole simulated
/// mesh exported from one endpoint): prometheus-net then reuses the metric and adds label sets.
/// </summary>
public sealed class IstioStyleMetrics
{
    /// <summary>Istio's default duration buckets (milliseconds).</summary>
    public static readonly double[] DurationBuckets =
        [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    private static readonly string[] Labels =
    [
        "reporter", "source_workload", "destination_workload", "destination_workload_namespace",
        "destination_service", "destination_service_name", "response_code",
    ];

    private readonly Counter _requests;
    private readonly Histogram _duration;
    private readonly string[] _fixed;

    public IstioStyleMetrics(DemoWorkloadOptions options, CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _requests = factory.CreateCounter("istio_requests_total", "Requests handled, as Istio's destination reporter counts them.",
            new CounterConfiguration { LabelNames = Labels });
        _duration = factory.CreateHistogram("istio_request_duration_milliseconds", "Request duration in milliseconds.",
            new HistogramConfiguration { LabelNames = Labels, Buckets = DurationBuckets });
        var service = options.Service ?? (options.Workload.EndsWith("-primary", StringComparison.Ordinal) ? options.Workload[..^"-primary".Length] : options.Workload);
        _fixed = ["destination", "loadgen", options.Workload, options.Namespace, $"{service}.{options.Namespace}.svc.cluster.local", service];
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Records <paramref name="count"/> requests answered with this status in this time.</summary>
    public void Record(int statusCode, double milliseconds, long count = 1)
    {
        string[] values = [.. _fixed, statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        _requests.WithLabels(values).Inc(count);
        _duration.WithLabels(values).Observe(milliseconds, count);
    }
}

namespace CanaryFlow.Analysis.Verdicts;

/// <summary>
/// The built-in Istio metrics. Each query covers a whole namespace, grouped by workload, so that
/// one answer serves every canary (and stable) in it: the load on Prometheus grows with the number
/// of namespaces, not of canaries.
/// </summary>
public static class IstioQueries
{
    public const string SuccessRate = "request-success-rate";
    public const string Duration = "request-duration";

    /// <summary>The workload label each built-in query is grouped by.</summary>
    public const string WorkloadLabel = "destination_workload";

    private const string By = "sum by (destination_workload_namespace, destination_workload)";

    public static bool IsBuiltIn(string metric) => metric is SuccessRate or Duration;

    /// <summary>Requests per workload over the window: decides whether a canary had traffic.</summary>
    /// <param name="workloads">As in <see cref="RequestsTotal"/>: when given, only these workloads' series.</param>
    public static string Requests(string ns, TimeSpan window, string? workloads = null) =>
        $"{By} (increase(istio_requests_total{{{Selector(ns, workloads)}}}[{PromQl.Duration(window)}]))";

    /// <summary>5xx responses per workload. A workload with traffic but no series here had no 5xx.</summary>
    public static string ServerErrors(string ns, TimeSpan window, string? workloads = null) =>
        $"{By} (increase(istio_requests_total{{{Selector(ns, workloads)},response_code=~\"5..\"}}[{PromQl.Duration(window)}]))";

    /// <summary>P99 latency in milliseconds per workload.</summary>
    public static string P99(string ns, TimeSpan window, string? workloads = null) =>
        $"histogram_quantile(0.99, sum by (destination_workload_namespace, destination_workload, le) " +
        $"(rate(istio_request_duration_milliseconds_bucket{{{Selector(ns, workloads)}}}[{PromQl.Duration(window)}])))";

    /// <summary>Cumulative requests per workload (sequential mode reads counters, not rates).</summary>
    /// <param name="workloads">When given (<see cref="PromQl.AnyOf"/>), only these workloads' series, still one query for the
    /// namespace: Prometheus then reads a few hundred series instead of every one of a namespace of thousands of services.</param>
    public static string RequestsTotal(string ns, string? workloads = null) => $"{By} (istio_requests_total{{{Selector(ns, workloads)}}})";

    /// <summary>Cumulative 5xx per workload.</summary>
    public static string ServerErrorsTotal(string ns, string? workloads = null) =>
        $"{By} (istio_requests_total{{{Selector(ns, workloads)},response_code=~\"5..\"}})";

    /// <summary>The unit of <see cref="DurationBucketsTotal"/>'s <c>le</c> values: Istio's request duration is in milliseconds.
    /// Anything compared with a bucket bound (the latency test's floor) is converted with it, so a histogram in seconds
    /// (<c>*_seconds_bucket</c>, as most non-Istio exporters write) would change this one line, not the test.</summary>
    public static readonly TimeSpan DurationBucketUnit = TimeSpan.FromMilliseconds(1);

    /// <summary>Cumulative latency histogram buckets per workload and le (in <see cref="DurationBucketUnit"/>).</summary>
    public static string DurationBucketsTotal(string ns, string? workloads = null) =>
        $"sum by (destination_workload_namespace, destination_workload, le) (istio_request_duration_milliseconds_bucket{{{Selector(ns, workloads)}}})";

    private static string Selector(string ns, string? workloads = null) =>
        $"reporter=\"destination\",destination_workload_namespace={PromQl.Quote(ns)}" +
        (workloads is null ? "" : $",{WorkloadLabel}=~{PromQl.Quote(workloads)}");
}

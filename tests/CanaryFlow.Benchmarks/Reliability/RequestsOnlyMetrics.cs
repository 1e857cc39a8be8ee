using System.Globalization;
using Prometheus;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// <c>istio_requests_total</c> of one workload with the labels <see cref="CanaryFlow.Sandbox.Workloads.IstioStyleMetrics"/>
/// gives it, without the duration histogram: a success-rate check queries only this counter, and the histogram's 22 series
/// per label set are ~95 % of what the harness's Prometheus ingests (<c>scale --no-latency-series</c>).
/// </summary>
public sealed class RequestsOnlyMetrics(CollectorRegistry registry, string ns, string workload)
{
    private readonly Counter _requests = Metrics.WithCustomRegistry(registry).CreateCounter("istio_requests_total",
        "Requests handled, as Istio's destination reporter counts them.", new CounterConfiguration
        {
            LabelNames = ["reporter", "source_workload", "destination_workload", "destination_workload_namespace",
                "destination_service", "destination_service_name", "response_code"],
        });

    private readonly string[] _fixed = Fixed(ns, workload);

    public void Record(int statusCode, long count) =>
        _requests.WithLabels([.. _fixed, statusCode.ToString(CultureInfo.InvariantCulture)]).Inc(count);

    private static string[] Fixed(string ns, string workload)
    {
        var service = workload.EndsWith("-primary", StringComparison.Ordinal) ? workload[..^"-primary".Length] : workload;
        return ["destination", "loadgen", workload, ns, $"{service}.{ns}.svc.cluster.local", service];
    }
}

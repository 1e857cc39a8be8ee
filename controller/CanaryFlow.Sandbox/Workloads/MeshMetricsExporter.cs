using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Prometheus;

namespace CanaryFlow.Sandbox.Workloads;

/// <summary>
/// One /metrics endpoint (Kestrel on 127.0.0.1, free port) exporting Istio-style metrics for many
/// workloads whose traffic is simulated rather than served: for a mesh of thousands of workloads
/// (benchmarks, the simulated mesh) where a process per workload would be absurd.
/// </summary>
public sealed class MeshMetricsExporter : IAsyncDisposable
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly ConcurrentDictionary<(string Namespace, string Workload), IstioStyleMetrics> _workloads = new();
    private readonly WebApplication _app;

    private MeshMetricsExporter()
    {
        _app = LoopbackApp.CreateBuilder().Build();
        _app.MapGet("/metrics", context => MetricsEndpoint.ExportAsync(_registry, context));
    }

    /// <summary>host:port for a Prometheus scrape config.</summary>
    public string ScrapeTarget { get; private set; } = "";

    public static async Task<MeshMetricsExporter> StartAsync(CancellationToken cancellationToken = default)
    {
        var exporter = new MeshMetricsExporter();
        await exporter._app.StartAsync(cancellationToken);
        var address = LoopbackApp.AddressOf(exporter._app);
        exporter.ScrapeTarget = $"{address.Host}:{address.Port}";
        return exporter;
    }

    /// <summary>Counts <paramref name="count"/> simulated requests of one workload, as its sidecar would.</summary>
    public void Record(string ns, string workload, int statusCode, double milliseconds, long count = 1) =>
        _workloads.GetOrAdd((ns, workload), key => new IstioStyleMetrics(new DemoWorkloadOptions(key.Namespace, key.Workload), _registry))
            .Record(statusCode, milliseconds, count);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

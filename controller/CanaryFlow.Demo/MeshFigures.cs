using CanaryFlow.Analysis.Prometheus;

namespace CanaryFlow.Demo;

/// <summary>What Prometheus sees of each version right now (error rate and P99 over the last 10 s),
/// for the terminal: the same numbers the analysis judges, shown for stable and canary side by side.</summary>
public sealed class MeshFigures(IPrometheusClient prometheus)
{
    private const string By = "sum by (destination_workload)";

    public async Task<IReadOnlyDictionary<string, (double? ErrorPercent, double? P99Ms)>> ReadAsync(CancellationToken ct)
    {
        var errors = await prometheus.QueryAsync(
            $"100 * {By} (rate(istio_requests_total{{response_code=~\"5..\"}}[10s])) / {By} (rate(istio_requests_total[10s]))", null, ct);
        var total = await prometheus.QueryAsync($"{By} (rate(istio_requests_total[10s]))", null, ct);
        var p99 = await prometheus.QueryAsync(
            $"histogram_quantile(0.99, sum by (destination_workload, le) (rate(istio_request_duration_milliseconds_bucket[10s])))", null, ct);

        var figures = new Dictionary<string, (double?, double?)>();
        foreach (var s in total.Vector.Where(s => s.Point.Value > 0))
        {
            var workload = s.Labels["destination_workload"];
            // A workload with traffic and no 5xx series has no errors.
            var err = errors.Vector.FirstOrDefault(e => e.Labels["destination_workload"] == workload)?.Point.Value ?? 0;
            var latency = p99.Vector.FirstOrDefault(e => e.Labels["destination_workload"] == workload)?.Point.Value;
            figures[workload] = (double.IsNaN(err) ? 0 : err, latency is { } l && !double.IsNaN(l) ? l : null);
        }
        return figures;
    }
}

using CanaryFlow.Analysis.Prometheus;

namespace CanaryFlow.Demo.Stories;

/// <summary>What Prometheus sees of each version right now (error rate and P99 over the last <c>window</c>),
/// for the terminal: the same numbers the analysis judges, shown for stable and canary side by side.</summary>
/// <param name="window">The rate window: a few scrape intervals (10s for the embedded demo's 1 s scrapes; a minute on a cluster).</param>
/// <param name="selector">Extra label matchers, e.g. <c>destination_workload_namespace="canaryflow-demo"</c>; empty for none.</param>
public sealed class MeshFigures(IPrometheusClient prometheus, string window = "10s", string selector = "")
{
    private const string By = "sum by (destination_workload)";

    public async Task<IReadOnlyDictionary<string, (double? ErrorPercent, double? P99Ms)>> ReadAsync(CancellationToken ct)
    {
        var errors = await prometheus.QueryAsync(
            $"100 * {By} (rate(istio_requests_total{Match("response_code=~\"5..\"")}[{window}])) / {By} (rate(istio_requests_total{Match("")}[{window}]))", null, ct);
        var total = await prometheus.QueryAsync($"{By} (rate(istio_requests_total{Match("")}[{window}]))", null, ct);
        var p99 = await prometheus.QueryAsync(
            $"histogram_quantile(0.99, sum by (destination_workload, le) (rate(istio_request_duration_milliseconds_bucket{Match("")}[{window}])))", null, ct);

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

    /// <summary>"{a,b}" from the fixed selector and one more matcher; "" when both are empty (the embedded demo's queries, unchanged).</summary>
    private string Match(string extra)
    {
        var all = string.Join(",", new[] { selector, extra }.Where(m => m.Length > 0));
        return all.Length == 0 ? "" : "{" + all + "}";
    }
}

using System.Globalization;
using System.Text.Json.Nodes;

namespace CanaryFlow.Benchmarks.Scale;

/// <summary>
/// How the harness's Prometheus kept up, from its own /metrics (summaries over its last 10 minutes) and two instant queries:
/// the interval between scrapes of a target against the one asked (a check whose window got no new scrape sees no new
/// requests and is held), the mean instant-query time, and the targets up with their slowest scrape.
/// </summary>
public static class PrometheusSelfFigures
{
    public static async Task<string> DescribeAsync(Uri prometheus)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = prometheus, Timeout = TimeSpan.FromSeconds(30) };
            var own = (await http.GetStringAsync("metrics")).Split('\n');
            string Quantile(string q) => Sample(own, "prometheus_target_interval_length_seconds{", $"quantile=\"{q}\"") is { } v ? $"{v:F2}" : "?";
            var querySeconds = Sample(own, "prometheus_http_request_duration_seconds_sum{", "handler=\"/api/v1/query\"") ?? 0;
            var queries = Sample(own, "prometheus_http_request_duration_seconds_count{", "handler=\"/api/v1/query\"") ?? 0;
            var innerP99 = Sample(own, "prometheus_engine_query_duration_seconds{", "slice=\"inner_eval\"", "quantile=\"0.99\"");
            var up = await ScalarAsync(http, "count(up == 1)");
            var targets = await ScalarAsync(http, "count(up)");
            var slowest = await ScalarAsync(http, "max(max_over_time(scrape_duration_seconds[10m]))");
            var series = await ScalarAsync(http, "sum(scrape_samples_scraped)");
            return $"scrape interval p50 {Quantile("0.5")} s, p90 {Quantile("0.9")} s, p99 {Quantile("0.99")} s; " +
                   $"{up:F0} of {targets:F0} targets up, {series:F0} series, slowest scrape in 10 min {slowest:F2} s; " +
                   $"{queries:F0} instant queries, mean {querySeconds / Math.Max(1, queries):F3} s, inner eval p99 {innerP99:F3} s";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"not read ({e.Message})";
        }
    }

    private static double? Sample(IEnumerable<string> lines, string prefix, params string[] labels) =>
        lines.Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && labels.All(m => l.Contains(m, StringComparison.Ordinal)))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture))
            .Cast<double?>().FirstOrDefault();

    private static async Task<double> ScalarAsync(HttpClient http, string query)
    {
        var body = JsonNode.Parse(await http.GetStringAsync($"api/v1/query?query={Uri.EscapeDataString(query)}"))!;
        var value = body["data"]?["result"]?.AsArray().FirstOrDefault()?["value"]?[1];
        return value is null ? double.NaN : double.Parse((string)value!, CultureInfo.InvariantCulture);
    }
}

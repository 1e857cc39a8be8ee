using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Statistics;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis;

// The statistical half of a check: samples of each metric over the interval (range queries) for
// the canary and for the stable (or baseline) workload, judged Kayenta-style.
public sealed partial class PrometheusAnalysisRunner
{
    private async Task<(ComparisonScore?, IReadOnlyList<MetricResult>)> CompareAsync(
        AnalysisRequest request, ComparisonSpec spec, CancellationToken cancellationToken)
    {
        var reference = spec.UseBaseline ? request.BaselineWorkload ?? WorkloadNames.Baseline(request.Target) : request.StableWorkload;
        var comparisons = new List<MetricComparison>();
        var results = new List<MetricResult>();
        foreach (var metric in request.Spec.Metrics)
        {
            var name = metric.Name + ":comparison";
            try
            {
                var (canary, stable) = await SamplesAsync(request, metric, reference, cancellationToken);
                var c = KayentaJudge.Classify(name, canary, stable, spec.Confidence, spec.AllowedRelativeChange, Harm(metric));
                comparisons.Add(c);
                results.Add(new MetricResult(name, c.CanaryMean, null, null, c.Classification == Classification.NoData ? "nodata" : c.Classification.ToString().ToLowerInvariant(),
                    Baseline: c.StableMean, PValue: c.PValue,
                    Detail: $"{c.CanaryCount} canary vs {c.StableCount} {reference} samples, relative change {(c.RelativeChange is { } r ? MetricCheck.Format(r) : "n/a")}, " +
                            $"allowed {MetricCheck.Format(spec.AllowedRelativeChange)} at confidence {MetricCheck.Format(spec.Confidence)}"));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // A comparison that could not be measured gives no verdict (never a pass).
                comparisons.Add(new MetricComparison(name, Classification.NoData, false, null, null, null, null, 0, 0));
                results.Add(MetricCheck.Error(name, null, null, e).Result);
            }
        }
        return (KayentaJudge.Score(comparisons, spec), results);
    }

    private void PrefetchComparison(AnalysisRequest request, HashSet<string> builtIn)
    {
        var ns = request.Target.Namespace;
        var (window, step) = (options.ComparisonRateWindow, options.ComparisonStep);
        if (builtIn.Contains(IstioQueries.SuccessRate))
        {
            Forget(_batcher.RangeAsync("requests-range", ns, request.Interval, request.At, step, IstioQueries.Requests(ns, window), CancellationToken.None));
            Forget(_batcher.RangeAsync("errors-range", ns, request.Interval, request.At, step, IstioQueries.ServerErrors(ns, window), CancellationToken.None));
        }
        if (builtIn.Contains(IstioQueries.Duration))
            Forget(_batcher.RangeAsync("p99-range", ns, request.Interval, request.At, step, IstioQueries.P99(ns, window), CancellationToken.None));
    }

    private async Task<(IReadOnlyList<double> Canary, IReadOnlyList<double> Stable)> SamplesAsync(
        AnalysisRequest request, MetricSpec metric, string reference, CancellationToken cancellationToken)
    {
        var ns = request.Target.Namespace;
        var window = options.ComparisonRateWindow;
        var step = options.ComparisonStep;
        switch (metric.Name)
        {
            case IstioQueries.SuccessRate when metric.Query is null:
            {
                var totals = await _batcher.RangeAsync("requests-range", ns, request.Interval, request.At, step, IstioQueries.Requests(ns, window), cancellationToken);
                var errors = await _batcher.RangeAsync("errors-range", ns, request.Interval, request.At, step, IstioQueries.ServerErrors(ns, window), cancellationToken);
                return (SuccessSamples(totals, errors, request.CanaryWorkload), SuccessSamples(totals, errors, reference));
            }
            case IstioQueries.Duration when metric.Query is null:
            {
                var p99 = await _batcher.RangeAsync("p99-range", ns, request.Interval, request.At, step, IstioQueries.P99(ns, window), cancellationToken);
                return (Values(p99, request.CanaryWorkload), Values(p99, reference));
            }
            default:
            {
                if (string.IsNullOrWhiteSpace(metric.Query)) return ([], []);
                var canary = await client.QueryRangeAsync(Render(request, metric.Query, request.CanaryWorkload), request.At - request.Interval, request.At, step, cancellationToken);
                var stable = await client.QueryRangeAsync(Render(request, metric.Query, reference), request.At - request.Interval, request.At, step, cancellationToken);
                return (FirstSeries(canary), FirstSeries(stable));
            }
        }
    }

    // Per timestamp: share of non-5xx in percent; a timestamp with traffic and no 5xx point is 100%.
    private static double[] SuccessSamples(
        IReadOnlyDictionary<string, IReadOnlyList<PromPoint>> totals, IReadOnlyDictionary<string, IReadOnlyList<PromPoint>> errors, string workload)
    {
        if (!totals.TryGetValue(workload, out var total)) return [];
        var failed = errors.TryGetValue(workload, out var e) ? e.ToDictionary(p => p.Timestamp, p => p.Value) : [];
        return total
            .Where(p => double.IsFinite(p.Value) && p.Value > 0)
            .Select(p => 100 * (p.Value - Math.Min(p.Value, failed.GetValueOrDefault(p.Timestamp))) / p.Value)
            .ToArray();
    }

    private static double[] Values(IReadOnlyDictionary<string, IReadOnlyList<PromPoint>> series, string workload) =>
        series.TryGetValue(workload, out var points) ? points.Select(p => p.Value).ToArray() : [];

    private static double[] FirstSeries(PromQueryResult result) =>
        result.Matrix.Count > 0 ? result.Matrix[0].Points.Select(p => p.Value).ToArray() : [];

    // Which way hurts: built-ins are known; a custom metric with only a minimum must not drop,
    // with only a maximum must not rise, otherwise any significant change counts.
    private static HarmfulDirection Harm(MetricSpec metric) => metric switch
    {
        { Name: IstioQueries.SuccessRate, Query: null } => HarmfulDirection.Decrease,
        { Name: IstioQueries.Duration, Query: null } => HarmfulDirection.Increase,
        { Min: not null, Max: null } => HarmfulDirection.Decrease,
        { Min: null, Max: not null } => HarmfulDirection.Increase,
        _ => HarmfulDirection.Either,
    };
}

using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis;

/// <summary>
/// Runs one check against Prometheus. The canary's request count decides whether it had traffic
/// (fewer than MinRequests: NoData, never a pass); with traffic, a missing 5xx series means zero
/// errors, so a canary failing every request fails its first check. Built-in metrics come from
/// batched queries per namespace that name the workloads this process checks; custom metrics are rendered per canary.
/// </summary>
public sealed partial class PrometheusAnalysisRunner(IPrometheusClient client, PrometheusOptions options, TimeProvider timeProvider,
    WorkloadInterest? interest = null) : IAnalysisRunner
{
    private const string RequestCount = "request-count";

    private readonly WorkloadQueryBatcher _batcher = new(client, timeProvider, options.BatchWindow, interest);

    public async Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        var ns = request.Target.Namespace;
        var canary = request.CanaryWorkload;
        var spec = request.Spec;
        var context = $"canary {ns}/{canary} over {PromQl.Duration(request.Interval)}";

        // Start every shared query this check will need at once, so a tick costs the
        // slowest query rather than the sum of them (each is shared with the other canaries).
        Prefetch(request);

        IReadOnlyDictionary<string, double> totals;
        try
        {
            totals = await _batcher.InstantForAsync("requests", ns, request.Interval, request.At,
                w => IstioQueries.Requests(ns, request.Interval, w), canary, request.StableWorkload, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return VerdictRules.Combine(context, [MetricCheck.Error(RequestCount, spec.MinRequests, null, e)], null, []);
        }

        var requests = totals.TryGetValue(canary, out var n) && double.IsFinite(n) ? n : 0;
        var countDetail = $"{MetricCheck.Format(requests)} requests, min {spec.MinRequests}";
        if (requests < spec.MinRequests || requests <= 0)
        {
            var noTraffic = new MetricCheck(CheckStatus.NoData,
                new MetricResult(RequestCount, requests, spec.MinRequests, null, "nodata", Detail: countDetail + "; too little traffic to judge"));
            return VerdictRules.Combine(context, [noTraffic], null, []);
        }

        var checks = new List<MetricCheck>();
        foreach (var metric in spec.Metrics)
            checks.Add(await CheckAsync(request, metric, requests, totals, cancellationToken));

        var (score, comparisonResults) = spec.Comparison is { } comparison
            ? await CompareAsync(request, comparison, cancellationToken)
            : (null, []);
        return VerdictRules.Combine($"{context}, {countDetail}", checks, score, comparisonResults);
    }

    private void Prefetch(AnalysisRequest request)
    {
        var ns = request.Target.Namespace;
        var builtIn = request.Spec.Metrics.Where(m => m.Query is null).Select(m => m.Name).ToHashSet();
        if (builtIn.Contains(IstioQueries.SuccessRate))
            Forget(Errors(request, CancellationToken.None));
        if (builtIn.Contains(IstioQueries.Duration))
            Forget(P99(request, CancellationToken.None));
        if (request.Spec.Comparison is not null)
            PrefetchComparison(request, builtIn);
    }

    private Task<IReadOnlyDictionary<string, double>> Errors(AnalysisRequest r, CancellationToken cancellationToken) =>
        _batcher.InstantForAsync("errors", r.Target.Namespace, r.Interval, r.At,
            w => IstioQueries.ServerErrors(r.Target.Namespace, r.Interval, w), r.CanaryWorkload, r.StableWorkload, cancellationToken);

    private Task<IReadOnlyDictionary<string, double>> P99(AnalysisRequest r, CancellationToken cancellationToken) =>
        _batcher.InstantForAsync("p99", r.Target.Namespace, r.Interval, r.At,
            w => IstioQueries.P99(r.Target.Namespace, r.Interval, w), r.CanaryWorkload, r.StableWorkload, cancellationToken);

    // A prefetched query that fails is reported by the check that reads it; here it is only
    // marked observed so that an unread failure does not surface as an unobserved exception.
    private static void Forget(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private async Task<MetricCheck> CheckAsync(AnalysisRequest request, MetricSpec metric, double requests,
        IReadOnlyDictionary<string, double> totals, CancellationToken cancellationToken)
    {
        var ns = request.Target.Namespace;
        try
        {
            switch (metric.Name)
            {
                case IstioQueries.SuccessRate when metric.Query is null:
                {
                    var errors = await Errors(request, cancellationToken);
                    // Traffic without a 5xx series is traffic without 5xx: zero, not a gap.
                    var failed = errors.TryGetValue(request.CanaryWorkload, out var e) && double.IsFinite(e) ? Math.Min(e, requests) : 0;
                    var rate = 100 * (requests - failed) / requests;
                    return WithStable(MetricCheck.Judge(metric, rate, $"{MetricCheck.Format(failed)} of {MetricCheck.Format(requests)} requests were 5xx; percent"),
                        SuccessRate(totals, errors, request.StableWorkload));
                }
                case IstioQueries.Duration when metric.Query is null:
                {
                    var p99 = await P99(request, cancellationToken);
                    return WithStable(MetricCheck.Judge(metric, p99.TryGetValue(request.CanaryWorkload, out var v) ? v : null, "P99 ms"),
                        p99.TryGetValue(request.StableWorkload, out var s) && double.IsFinite(s) ? s : null);
                }
                default:
                    return await CheckCustomAsync(request, metric, cancellationToken);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return MetricCheck.Error(metric.Name, metric.Min, metric.Max, e);
        }
    }

    // As the canary's above; a stable without traffic has no rate.
    private static double? SuccessRate(IReadOnlyDictionary<string, double> totals, IReadOnlyDictionary<string, double> errors, string workload)
    {
        if (!totals.TryGetValue(workload, out var requests) || !double.IsFinite(requests) || requests <= 0) return null;
        var failed = errors.TryGetValue(workload, out var e) && double.IsFinite(e) ? Math.Min(e, requests) : 0;
        return 100 * (requests - failed) / requests;
    }

    // Stable's value from the same shared query, shown beside the canary's (no extra query, no effect on the verdict).
    private static MetricCheck WithStable(MetricCheck check, double? stable) =>
        stable is null ? check : check with { Result = check.Result with { Baseline = stable } };

    private async Task<MetricCheck> CheckCustomAsync(AnalysisRequest request, MetricSpec metric, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(metric.Query))
            return MetricCheck.Error(metric.Name, metric.Min, metric.Max,
                new ArgumentException($"metric '{metric.Name}' is not built in and has no query"));
        var promql = Render(request, metric.Query, request.CanaryWorkload);
        var result = await client.QueryAsync(promql, request.At, cancellationToken);
        double? value = result.ResultType switch
        {
            PromResultType.Scalar => result.Scalar?.Value,
            PromResultType.Vector when result.Vector.Count > 0 => result.Vector[0].Point.Value,
            _ => null,
        };
        var detail = result.Vector.Count > 1 ? $"{result.Vector.Count} series, the first is judged" : "custom query";
        return MetricCheck.Judge(metric, value, detail);
    }

    private static string Render(AnalysisRequest request, string template, string measured) =>
        MetricTemplate.Render(template, request.Target.Namespace, measured, request.CanaryWorkload, request.StableWorkload, request.Interval);
}

using System.Collections.Concurrent;
using CanaryFlow.Analysis;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;
using k8s;

namespace CanaryFlow.Controller.Kubernetes.Templates;

/// <summary>
/// Metrics from a template with its own <c>address</c> are asked of that Prometheus (with the bearer token its
/// <c>secretRef</c> names, read at each check so a rotated token is used at once); every other metric goes to the
/// controller's runner as before. The verdicts combine as one check's: any failed metric fails it, a query error
/// makes a passing check inconclusive, and the evidence lists every metric.
/// </summary>
public sealed class SourcedAnalysisRunner(IAnalysisRunner inner, IKubernetes kubernetes, PrometheusOptions defaults, TimeProvider time) : IAnalysisRunner
{
    private readonly ConcurrentDictionary<(string Address, string? Token), PrometheusClient> _clients = new();

    public async Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        var sourced = request.Spec.Metrics.Where(m => m.Source is not null && m.Query is not null).ToList();
        if (sourced.Count == 0) return await inner.RunAsync(request, cancellationToken);
        var local = request with { Spec = request.Spec with { Metrics = request.Spec.Metrics.Except(sourced).ToList() } };
        var verdict = await inner.RunAsync(local, cancellationToken);
        var checks = new List<MetricCheck>();
        foreach (var metric in sourced) checks.Add(await CheckAsync(request, metric, cancellationToken));
        var outcome = checks.Any(c => c.Status == CheckStatus.Fail) ? VerdictOutcome.Failed
            : verdict.Outcome == VerdictOutcome.Passed && checks.Any(c => c.Status == CheckStatus.Error) ? VerdictOutcome.QueryError
            : verdict.Outcome == VerdictOutcome.Passed && checks.Any(c => c.Status == CheckStatus.NoData) ? VerdictOutcome.NoData
            : verdict.Outcome;
        var failed = checks.Where(c => c.Status != CheckStatus.Pass).Select(c => $"{c.Result.Name} {c.Result.Outcome}").ToList();
        var summary = failed.Count == 0 ? verdict.Evidence.Summary : $"{string.Join(", ", failed)}; {verdict.Evidence.Summary}";
        return new AnalysisVerdict(outcome, new AnalysisEvidence(summary, [.. verdict.Evidence.Metrics, .. checks.Select(c => c.Result)]));
    }

    private async Task<MetricCheck> CheckAsync(AnalysisRequest request, MetricSpec metric, CancellationToken ct)
    {
        try
        {
            var source = metric.Source!;
            var token = await PromQlParseCheck.TokenAsync(kubernetes, source, ct);
            var client = _clients.GetOrAdd((source.Address, token), key => new PrometheusClient(Options(key.Address, key.Token), time));
            var promql = MetricTemplate.Render(metric.Query!, request.Target.Namespace, request.CanaryWorkload, request.CanaryWorkload,
                request.StableWorkload, request.Interval);
            var result = await client.QueryAsync(promql, request.At, ct);
            double? value = result.ResultType switch
            {
                PromResultType.Scalar => result.Scalar?.Value,
                PromResultType.Vector when result.Vector.Count > 0 => result.Vector[0].Point.Value,
                _ => null,
            };
            return MetricCheck.Judge(metric, value, $"template query at {source.Address}");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            return MetricCheck.Error(metric.Name, metric.Min, metric.Max, e);
        }
    }

    // The controller's resilience settings, another address and token.
    private PrometheusOptions Options(string address, string? token) => new()
    {
        Address = address, BearerToken = token, AttemptTimeout = defaults.AttemptTimeout, QueryTimeout = defaults.QueryTimeout,
        MaxRetries = defaults.MaxRetries, RetryBaseDelay = defaults.RetryBaseDelay, CircuitFailureRatio = defaults.CircuitFailureRatio,
        CircuitMinimumThroughput = defaults.CircuitMinimumThroughput, CircuitSamplingDuration = defaults.CircuitSamplingDuration,
        CircuitBreakDuration = defaults.CircuitBreakDuration,
    };
}

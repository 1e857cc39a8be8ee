using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Contracts;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace CanaryFlow.Controller.Kubernetes.Templates;

/// <summary>
/// Asks Prometheus whether a query parses, before a rollout starts: <c>/api/v1/format_query</c> runs Prometheus' own
/// parser and evaluates nothing, so it costs nothing whatever the query would select. The template's variables are
/// filled with sample values first. A 400 (bad_data) is the parser's verdict; a Prometheus that cannot be reached
/// gives none (the check is skipped, and the query is judged at the first check as before). Verdicts are kept per
/// address and query (bounded), since every Canary event maps its spec again.
/// </summary>
public sealed class PromQlParseCheck(IHttpClientFactory clients, IOptions<PrometheusOptions> options, IKubernetes kubernetes,
    TimeProvider time, ILogger<PromQlParseCheck> log)
{
    public const string HttpClientName = "canaryflow-promql-check";
    private const int MaxRemembered = 2048;
    private readonly ConcurrentDictionary<(string Address, string Query), string> _verdicts = new();
    private readonly Lazy<ResiliencePipeline> _pipeline = new(() => PrometheusResilience.Build(options.Value, time));

    /// <returns>Why the query does not parse, or null when it parses or no Prometheus could tell.</returns>
    public async Task<string?> ProblemAsync(string template, PrometheusSource? source, CancellationToken ct)
    {
        var address = source?.Address ?? options.Value.Address;
        if (string.IsNullOrWhiteSpace(address)) return null; // no Prometheus configured (the embedded demo, tests)
        var query = CanaryFlow.Analysis.Verdicts.MetricTemplate.Render(template, "ns", "app", "app", "app-primary", TimeSpan.FromMinutes(1));
        if (_verdicts.TryGetValue((address, query), out var known)) return known.Length == 0 ? null : known;
        string? problem;
        try
        {
            problem = await _pipeline.Value.ExecuteAsync(async t => await AskAsync(address, query, source, t), ct);
        }
        catch (Exception e) when (e is HttpRequestException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException
                                      or PrometheusUnavailableException or HttpOperationException)
        {
            log.LogInformation("Could not ask Prometheus whether a query parses ({Error}); it is judged at the first check", e.GetType().Name);
            return null;
        }
        if (_verdicts.Count >= MaxRemembered) _verdicts.Clear();
        _verdicts[(address, query)] = problem ?? "";
        return problem;
    }

    private async Task<string?> AskAsync(string address, string query, PrometheusSource? source, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, address.TrimEnd('/') + "/api/v1/format_query")
        {
            Content = new FormUrlEncodedContent([new("query", query)]),
        };
        await AuthorizeAsync(request, source, ct);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attempt.CancelAfter(options.Value.AttemptTimeout);
        using var response = await clients.CreateClient(HttpClientName).SendAsync(request, attempt.Token);
        if (response.IsSuccessStatusCode) return null;
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode == HttpStatusCode.BadRequest && JsonNode.Parse(body)?["error"] is { } error)
            return ((string?)error ?? "").Replace("invalid parameter \"query\": ", "", StringComparison.Ordinal);
        // 5xx, 429: not the parser's answer; retried by the pipeline, then skipped.
        throw new PrometheusUnavailableException("unavailable", $"format_query answered {(int)response.StatusCode}", (int)response.StatusCode);
    }

    private async Task AuthorizeAsync(HttpRequestMessage request, PrometheusSource? source, CancellationToken ct)
    {
        if (source is null)
        {
            var o = options.Value;
            if (!string.IsNullOrEmpty(o.BearerToken)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", o.BearerToken);
            else if (!string.IsNullOrEmpty(o.Username))
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{o.Username}:{o.Password}")));
            foreach (var (name, value) in o.Headers) request.Headers.TryAddWithoutValidation(name, value);
        }
        else if (await TokenAsync(kubernetes, source, ct) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>The bearer token a template's secretRef names, or null without one.</summary>
    public static async Task<string?> TokenAsync(IKubernetes kubernetes, PrometheusSource source, CancellationToken ct)
    {
        if (source.SecretName is null || source.SecretNamespace is null) return null;
        var secret = await kubernetes.CoreV1.ReadNamespacedSecretAsync(source.SecretName, source.SecretNamespace, cancellationToken: ct);
        return secret.Data?.TryGetValue(source.SecretKey ?? "token", out var bytes) == true ? Encoding.UTF8.GetString(bytes).Trim() : null;
    }
}

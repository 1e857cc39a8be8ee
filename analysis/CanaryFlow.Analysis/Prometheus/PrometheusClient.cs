using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Polly;

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>
/// Prometheus HTTP API client. Queries go as form-encoded POSTs (long PromQL never hits URL
/// limits; Thanos and Mimir accept the same). Every call runs through <see cref="PrometheusResilience"/>.
/// One instance per process: it owns the HTTP connection pool and the circuit breaker state.
/// </summary>
public sealed class PrometheusClient : IPrometheusClient, IDisposable
{
    private readonly HttpClient _http;
    private readonly PrometheusOptions _options;
    private readonly ResiliencePipeline _pipeline;
    private readonly Uri _base;
    private long _attempts;
    private long _queries;

    public PrometheusClient(PrometheusOptions options, TimeProvider timeProvider, HttpMessageHandler? handler = null)
    {
        _options = options;
        _base = new Uri(options.Address.TrimEnd('/') + "/");
        // Connections are recycled so a Prometheus behind DNS that moves is found again.
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan, // the pipeline owns every timeout
        };
        _pipeline = PrometheusResilience.Build(options, timeProvider);
    }

    /// <summary>HTTP requests actually sent, retries included.</summary>
    public long AttemptsSent => Interlocked.Read(ref _attempts);

    /// <summary>Queries asked for (each may take several attempts).</summary>
    public long QueriesAsked => Interlocked.Read(ref _queries);

    public Task<PromQueryResult> QueryAsync(string promql, DateTimeOffset? time, CancellationToken cancellationToken) =>
        SendAsync("api/v1/query", InstantForm(promql, time), static (in ReadOnlySequence<byte> body, int status) => PrometheusResponseParser.Parse(body, status), cancellationToken);

    public Task<T> QueryVectorAsync<T>(string promql, DateTimeOffset? time, Func<IVectorSink<T>> newSink, CancellationToken cancellationToken) =>
        SendAsync("api/v1/query", InstantForm(promql, time), (in ReadOnlySequence<byte> body, int status) => PrometheusVectorReader.Read(body, status, newSink), cancellationToken);

    private static List<KeyValuePair<string, string>> InstantForm(string promql, DateTimeOffset? time)
    {
        var form = new List<KeyValuePair<string, string>> { new("query", promql) };
        if (time is { } t) form.Add(new("time", Seconds(t)));
        return form;
    }

    public Task<PromQueryResult> QueryRangeAsync(string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken)
    {
        if (step <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(step), "step must be positive");
        var form = new List<KeyValuePair<string, string>>
        {
            new("query", promql),
            new("start", Seconds(start)),
            new("end", Seconds(end)),
            new("step", step.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)),
        };
        return SendAsync("api/v1/query_range", form, static (in ReadOnlySequence<byte> body, int status) => PrometheusResponseParser.Parse(body, status), cancellationToken);
    }

    private delegate T BodyParser<out T>(in ReadOnlySequence<byte> body, int httpStatus);

    private async Task<T> SendAsync<T>(string path, List<KeyValuePair<string, string>> form, BodyParser<T> parse, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _queries);
        // Prometheus stops evaluating at its own timeout, so an abandoned attempt does not keep it busy.
        form.Add(new("timeout", _options.AttemptTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s"));
        return await _pipeline.ExecuteAsync(async ct =>
        {
            Interlocked.Increment(ref _attempts);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_base, path)) { Content = new FormUrlEncodedContent(form) };
            Authorize(request);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            // Read in small pooled chunks, never one large array (see PooledBody).
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            using var body = await PooledBody.ReadAsync(stream, ct);
            return parse(body.Sequence, (int)response.StatusCode);
        }, cancellationToken);
    }

    private void Authorize(HttpRequestMessage request)
    {
        if (!string.IsNullOrEmpty(_options.BearerToken))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.BearerToken);
        else if (!string.IsNullOrEmpty(_options.Username))
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_options.Username}:{_options.Password}")));
        foreach (var (name, value) in _options.Headers)
            request.Headers.TryAddWithoutValidation(name, value);
    }

    private static string Seconds(DateTimeOffset t) =>
        (t.ToUnixTimeMilliseconds() / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    public void Dispose() => _http.Dispose();
}

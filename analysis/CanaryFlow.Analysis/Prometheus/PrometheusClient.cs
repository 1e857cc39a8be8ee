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
        SendAsync("api/v1/query", InstantForm(promql, time), PrometheusResponseParser.Parse, cancellationToken);

    public Task<T> QueryVectorAsync<T>(string promql, DateTimeOffset? time, Func<IVectorSink<T>> newSink, CancellationToken cancellationToken) =>
        SendAsync("api/v1/query", InstantForm(promql, time), (body, status) => PrometheusVectorReader.Read(body, status, newSink), cancellationToken);

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
        return SendAsync("api/v1/query_range", form, PrometheusResponseParser.Parse, cancellationToken);
    }

    private delegate T BodyParser<out T>(ReadOnlySpan<byte> body, int httpStatus);

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
            var (buffer, length) = await ReadPooledAsync(response.Content, ct);
            try
            {
                return parse(buffer.AsSpan(0, length), (int)response.StatusCode);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }, cancellationToken);
    }

    /// <summary>The body into a buffer from the shared pool (the caller returns it): namespace-wide answers run to
    /// megabytes several times a tick, and a fresh array each time would land on the large-object heap.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadPooledAsync(HttpContent content, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(content.Headers.ContentLength ?? 0, 16 * 1024, 64 * 1024 * 1024));
        var length = 0;
        try
        {
            await using var stream = await content.ReadAsStreamAsync(ct);
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(length), ct);
                if (read == 0) return (buffer, length);
                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
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

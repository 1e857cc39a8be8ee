using System.Collections.Concurrent;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Sandbox.Workloads;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Polly.CircuitBreaker;

namespace CanaryFlow.Analysis.Tests.Prometheus;

/// <summary>
/// What the client puts on the wire and how it behaves when the server misbehaves, against a
/// recording HTTP front on 127.0.0.1 (the role an authenticating Thanos/Mimir proxy plays).
/// </summary>
public sealed class PrometheusClientTests : IAsyncLifetime
{
    private const string Vector = """{"status":"success","data":{"resultType":"vector","result":[]}}""";
    private readonly ConcurrentQueue<(Dictionary<string, string> Headers, Dictionary<string, string> Form)> _seen = new();
    private WebApplication _app = null!;
    private (int Status, string Body) _answer = (200, Vector);

    public async Task InitializeAsync()
    {
        _app = LoopbackApp.CreateBuilder().Build();
        _app.MapPost("/prefix/api/v1/{kind}", async (HttpContext context) =>
        {
            // Copies: Kestrel reuses the request's collections once it is answered.
            var form = await context.Request.ReadFormAsync();
            _seen.Enqueue((context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                form.ToDictionary(f => f.Key, f => f.Value.ToString())));
            context.Response.StatusCode = _answer.Status;
            await context.Response.WriteAsync(_answer.Body);
        });
        await _app.StartAsync();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private PrometheusClient Client(Action<PrometheusOptions>? configure = null)
    {
        var options = new PrometheusOptions
        {
            Address = new Uri(LoopbackApp.AddressOf(_app), "prefix").ToString(),
            MaxRetries = 2,
            RetryBaseDelay = TimeSpan.FromMilliseconds(10),
            AttemptTimeout = TimeSpan.FromSeconds(3),
        };
        configure?.Invoke(options);
        return new PrometheusClient(options, TimeProvider.System);
    }

    [Fact]
    public async Task Bearer_token_tenant_header_query_time_and_timeout_are_sent()
    {
        using var client = Client(o =>
        {
            o.BearerToken = "secret-token";
            o.Headers["X-Scope-OrgID"] = "tenant-a";
        });
        await client.QueryAsync("up", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_500), CancellationToken.None);

        var (headers, form) = Assert.Single(_seen);
        Assert.Equal("Bearer secret-token", headers["Authorization"]);
        Assert.Equal("tenant-a", headers["X-Scope-OrgID"]);
        Assert.Equal("up", form["query"]);
        Assert.Equal("1700000000.5", form["time"]);
        Assert.Equal("3s", form["timeout"]);
    }

    /// <summary>A namespace-wide answer (here 5,000 samples, ~500 KB, sent without a length) is read through the pooled body
    /// sample by sample, as it was sent, with the request the same as any instant query's.</summary>
    [Fact]
    public async Task A_large_vector_is_read_sample_by_sample_from_a_body_of_unknown_length()
    {
        var samples = Enumerable.Range(0, 5000).Select(i => $$"""{"metric":{"destination_workload":"w{{i}}","le":"{{i % 20}}"},"value":[1700000000,"{{i}}.5"]}""");
        _answer = (200, $$$"""{"status":"success","data":{"resultType":"vector","result":[{{{string.Join(",", samples)}}}]}}""");
        using var client = Client();

        var read = await ((IPrometheusClient)client).QueryVectorAsync("sum(x)", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), () => new Sums(), CancellationToken.None);

        Assert.Equal((5000, Enumerable.Range(0, 5000).Sum(i => i + 0.5)), read);
        Assert.Equal(("sum(x)", "1700000000"), (Assert.Single(_seen).Form["query"], _seen.Single().Form["time"]));
    }

    /// <summary>A large answer read as objects (the thresholds' and range queries' path) comes through the chunked body whole.</summary>
    [Fact]
    public async Task A_large_answer_read_as_objects_comes_through_the_chunked_body_whole()
    {
        var samples = Enumerable.Range(0, 3000).Select(i => $$"""{"metric":{"destination_workload":"w{{i}}"},"values":[[1700000000,"{{i}}"],[1700000010,"{{i}}.25"]]}""");
        _answer = (200, $$$"""{"status":"success","data":{"resultType":"matrix","result":[{{{string.Join(",", samples)}}}]}}""");
        using var client = Client();

        var read = await client.QueryRangeAsync("x", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), DateTimeOffset.FromUnixTimeSeconds(1_700_000_010),
            TimeSpan.FromSeconds(10), CancellationToken.None);

        Assert.True(_answer.Body.Length > 3 * PooledBody.ChunkSize);
        Assert.Equal(3000, read.Matrix.Count);
        Assert.Equal(("w2999", 2999.25), (read.Matrix[^1].Labels["destination_workload"], read.Matrix[^1].Points[1].Value));
    }

    /// <summary>Counts samples whose workload and le labels came through, and adds their values.</summary>
    private sealed class Sums : IVectorSink<(int Count, double Sum)>
    {
        private (int Count, double Sum) _total;
        public IReadOnlyList<string> Labels { get; } = ["destination_workload", "le"];
        public void Add(ReadOnlySpan<string?> labelValues, double value)
        {
            if (labelValues[0] is not null && labelValues[1] is not null) _total = (_total.Count + 1, _total.Sum + value);
        }
        public (int Count, double Sum) Result() => _total;
    }

    [Fact]
    public async Task Basic_auth_and_range_parameters_are_sent()
    {
        using var client = Client(o => (o.Username, o.Password) = ("alice", "pw"));
        _answer = (200, """{"status":"success","data":{"resultType":"matrix","result":[]}}""");
        var end = DateTimeOffset.FromUnixTimeSeconds(1_700_000_060);
        await client.QueryRangeAsync("up", end.AddMinutes(-1), end, TimeSpan.FromSeconds(15), CancellationToken.None);

        var (headers, form) = Assert.Single(_seen);
        Assert.Equal("Basic " + Convert.ToBase64String("alice:pw"u8.ToArray()), headers["Authorization"]);
        Assert.Equal(("1700000000", "1700000060", "15"), (form["start"], form["end"], form["step"]));
    }

    [Fact]
    public async Task An_unavailable_server_is_retried_a_bounded_number_of_times()
    {
        using var client = Client();
        _answer = (503, """{"status":"error","errorType":"unavailable","error":"overloaded"}""");
        await Assert.ThrowsAsync<PrometheusUnavailableException>(() => client.QueryAsync("up", null, CancellationToken.None));
        Assert.Equal(3, _seen.Count); // first attempt + MaxRetries
        Assert.Equal(3, client.AttemptsSent);
    }

    [Fact]
    public async Task Bad_PromQL_is_not_retried()
    {
        using var client = Client();
        _answer = (400, """{"status":"error","errorType":"bad_data","error":"parse error"}""");
        var e = await Assert.ThrowsAsync<PrometheusQueryException>(() => client.QueryAsync("up{", null, CancellationToken.None));
        Assert.Equal("bad_data", e.ErrorType);
        Assert.Single(_seen);
    }

    [Fact]
    public async Task After_repeated_failures_the_circuit_opens_and_queries_fail_fast_without_reaching_the_server()
    {
        using var client = Client(o =>
        {
            o.MaxRetries = 0;
            o.CircuitMinimumThroughput = 2;
            o.CircuitBreakDuration = TimeSpan.FromMinutes(1);
        });
        _answer = (503, "overloaded");
        for (var i = 0; i < 2; i++)
            await Assert.ThrowsAsync<PrometheusUnavailableException>(() => client.QueryAsync("up", null, CancellationToken.None));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.QueryAsync("up", null, CancellationToken.None));
        Assert.Equal(2, _seen.Count);
    }
}

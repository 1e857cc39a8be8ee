using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>
/// Stands between the controller and the real Prometheus (127.0.0.1): forwards every request unchanged,
/// counts the queries and notes when each was sent — the moments of analysis checks, seen from outside the
/// controller process. (The built-in queries cover a whole namespace grouped by workload, so a query names
/// no single canary: a weight change is attributed to the latest query before it.)
/// </summary>
public sealed class PrometheusProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly Stopwatch _clock;
    private readonly List<TimeSpan> _queriedAt = [];
    private long _queries;

    private PrometheusProxy(WebApplication app, Uri upstream, Stopwatch clock)
    {
        _app = app;
        _clock = clock;
        _upstream = new HttpClient { BaseAddress = upstream, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Address { get; private set; } = null!;
    public long Queries => Interlocked.Read(ref _queries);

    public static async Task<PrometheusProxy> StartAsync(Uri prometheus, Stopwatch clock)
    {
        var app = LoopbackApp.CreateBuilder().Build();
        var proxy = new PrometheusProxy(app, prometheus, clock);
        app.Map("/prometheus/{**path}", proxy.ForwardAsync);
        await app.StartAsync();
        proxy.Address = new Uri(LoopbackApp.AddressOf(app), "prometheus/");
        return proxy;
    }

    /// <summary>Times at which analysis queries were sent, in order.</summary>
    public IReadOnlyList<TimeSpan> QueriedAt()
    {
        lock (_queriedAt) return [.. _queriedAt];
    }

    private async Task ForwardAsync(HttpContext context)
    {
        var path = (string?)context.Request.RouteValues["path"] ?? "";
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        if (path.StartsWith("api/v1/query", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _queries);
            lock (_queriedAt) _queriedAt.Add(_clock.Elapsed);
        }
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), path + context.Request.QueryString);
        if (bytes.Length > 0)
        {
            request.Content = new ByteArrayContent(bytes);
            if (context.Request.ContentType is { } type) request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }
        try
        {
            using var response = await _upstream.SendAsync(request, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            if (response.Content.Headers.ContentType is { } ct) context.Response.ContentType = ct.ToString();
            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
        catch (HttpRequestException)
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway; // Prometheus down: as a dead upstream looks through a proxy
        }
    }

    public async ValueTask DisposeAsync()
    {
        _upstream.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>
/// Stands between the controller and the real Prometheus (127.0.0.1): forwards every request unchanged,
/// counts the queries, and notes when each workload was last queried — the moment of an analysis check,
/// seen from outside the controller process.
/// </summary>
public sealed partial class PrometheusProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly Stopwatch _clock;
    private readonly ConcurrentDictionary<string, List<TimeSpan>> _queriedAt = new();
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
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var proxy = new PrometheusProxy(app, prometheus, clock);
        app.Map("/prometheus/{**path}", proxy.ForwardAsync);
        await app.StartAsync();
        proxy.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/prometheus/");
        return proxy;
    }

    /// <summary>Times at which queries naming this workload were sent.</summary>
    public IReadOnlyList<TimeSpan> QueriedAt(string workload)
    {
        if (!_queriedAt.TryGetValue(workload, out var list)) return [];
        lock (list) return [.. list];
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
            var now = _clock.Elapsed;
            var text = Uri.UnescapeDataString(System.Text.Encoding.UTF8.GetString(bytes).Replace('+', ' ')) + Uri.UnescapeDataString(context.Request.QueryString.Value ?? "");
            foreach (var workload in Workloads().Matches(text).Select(m => m.Value).Distinct())
            {
                var list = _queriedAt.GetOrAdd(workload, _ => []);
                lock (list) list.Add(now);
            }
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

    // The harness's workload names (svc-0001, svc-0001-primary, …) as they appear in label matchers.
    [GeneratedRegex(@"[a-z]+-\d{2,4}(-primary)?")]
    private static partial Regex Workloads();

    public async ValueTask DisposeAsync()
    {
        _upstream.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>
/// Stands between the controller and the real Prometheus (127.0.0.1): forwards every request unchanged,
/// counts the queries and notes when each was sent, and for which workloads — the moments of analysis checks, seen from
/// outside the controller process. A batched query names the workloads it reads (<c>destination_workload=~"a|b"</c>), so
/// it counts for each of those; a query that names none counts for every workload. (Attributing a weight change to the
/// latest query of any kind, as this did before, measured the time since any read at all, which moved with the number
/// of reads rather than with the reaction.)
/// </summary>
public sealed partial class PrometheusProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly Stopwatch _clock;
    private readonly List<TimeSpan> _unnamed = []; // queries that name no workload: they read every one
    private readonly Dictionary<string, List<TimeSpan>> _named = new(StringComparer.Ordinal);
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

    /// <summary>Times at which analysis queries that read <paramref name="workload"/> were sent, in order.</summary>
    public IReadOnlyList<TimeSpan> QueriedAt(string workload)
    {
        lock (_unnamed)
        {
            IEnumerable<TimeSpan> named = _named.TryGetValue(workload, out var times) ? times : [];
            return [.. named.Concat(_unnamed).Order()];
        }
    }

    /// <summary>The workloads a query names in a <c>destination_workload</c> matcher (=~ alternatives or =), or null.</summary>
    public static IReadOnlyList<string>? WorkloadsNamed(string promql)
    {
        var names = WorkloadMatcher().Matches(promql)
            .SelectMany(m => m.Groups["names"].Value.Split('|'))
            .Select(n => n.Replace("\\", "", StringComparison.Ordinal))
            .Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        return names.Count == 0 ? null : names;
    }

    [System.Text.RegularExpressions.GeneratedRegex("destination_workload=~?\"(?<names>[^\"]*)\"")]
    private static partial System.Text.RegularExpressions.Regex WorkloadMatcher();

    private void Note(TimeSpan at, string? promql)
    {
        var names = promql is null ? null : WorkloadsNamed(promql);
        lock (_unnamed)
        {
            if (names is null) { _unnamed.Add(at); return; }
            foreach (var name in names)
            {
                if (!_named.TryGetValue(name, out var times)) _named[name] = times = [];
                times.Add(at);
            }
        }
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
            var form = context.Request.Method == "POST" ? Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(System.Text.Encoding.UTF8.GetString(bytes)) : null;
            var promql = form is not null && form.TryGetValue("query", out var q) ? q.ToString()
                : context.Request.Query.TryGetValue("query", out var g) ? g.ToString() : null;
            Note(_clock.Elapsed, promql);
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

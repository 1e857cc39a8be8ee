using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using CanaryFlow.Sandbox.Workloads;
using Prometheus;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// The synthetic mesh's Istio-style metrics over several scrape targets, as a real mesh spreads them over its pods: target
/// i (its own port on 127.0.0.1, one Kestrel app for all) exports only the workloads recorded against it. Series names and
/// labels are those of <see cref="IstioStyleMetrics"/>, so only <c>instance</c> tells the targets apart and the controller's
/// queries (summed by workload) are unchanged. One target for 3,000 services held ~152k series: Prometheus then scraped it
/// every 6 s at p90 and 19.5 s at p99 where 2 s were asked, and every check of a window without a new scrape was held (issue 15).
/// </summary>
public sealed class MeshScrapeTargets : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CollectorRegistry[] _registries;
    private readonly ConcurrentDictionary<(string Namespace, string Workload), Action<int, double, long>> _workloads = new();
    private readonly bool _latencySeries;
    private readonly Dictionary<int, CollectorRegistry> _byPort = [];
    private long _scrapes, _scrapeTicks;

    private MeshScrapeTargets(int targets, bool latencySeries)
    {
        _latencySeries = latencySeries;
        _registries = Enumerable.Range(0, targets).Select(_ => Metrics.NewCustomRegistry()).ToArray();
        var builder = LoopbackApp.CreateBuilder(); // listens on one free port; one more for every further target
        builder.WebHost.ConfigureKestrel(k =>
        {
            for (var i = 1; i < targets; i++) k.Listen(IPAddress.Loopback, 0);
        });
        _app = builder.Build();
        _app.MapGet("/metrics", ExportAsync);
    }

    /// <summary>host:port of every target, for the Prometheus scrape config.</summary>
    public IReadOnlyList<string> ScrapeTargets { get; private set; } = [];

    /// <summary>Scrapes served and the mean time one took (collect, write and send): the exposition's cost, seen from here.</summary>
    public long Scrapes => Interlocked.Read(ref _scrapes);
    public TimeSpan MeanScrape => Scrapes == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _scrapeTicks) / Scrapes);

    /// <param name="latencySeries">false: istio_requests_total alone (<see cref="RequestsOnlyMetrics"/>), for runs whose checks
    /// read no latency.</param>
    public static async Task<MeshScrapeTargets> StartAsync(int targets, bool latencySeries = true)
    {
        var mesh = new MeshScrapeTargets(Math.Max(1, targets), latencySeries);
        await mesh._app.StartAsync();
        var ports = mesh._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a).Port).ToList();
        for (var i = 0; i < ports.Count; i++) mesh._byPort[ports[i]] = mesh._registries[i];
        mesh.ScrapeTargets = ports.Select(p => $"127.0.0.1:{p}").ToList();
        return mesh;
    }

    /// <summary>Counts <paramref name="count"/> simulated requests of one workload on scrape target <paramref name="target"/>
    /// (a workload stays on the target it was first recorded against, as a pod's series stay on its pod).</summary>
    public void Record(int target, string ns, string workload, int statusCode, double milliseconds, long count) =>
        _workloads.GetOrAdd((ns, workload), key => Recorder(_registries[target], key.Namespace, key.Workload))(statusCode, milliseconds, count);

    private Action<int, double, long> Recorder(CollectorRegistry registry, string ns, string workload)
    {
        if (_latencySeries) return new IstioStyleMetrics(new DemoWorkloadOptions(ns, workload), registry).Record;
        var counter = new RequestsOnlyMetrics(registry, ns, workload);
        return (code, _, count) => counter.Record(code, count);
    }

    // prometheus-net streams the exposition through a 16 KiB buffer with label bytes built once per series: a scrape
    // allocates no copy of the text.
    private async Task ExportAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        await MetricsEndpoint.ExportAsync(_byPort[context.Connection.LocalPort], context);
        Interlocked.Add(ref _scrapeTicks, Stopwatch.GetTimestamp() - started);
        Interlocked.Increment(ref _scrapes);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

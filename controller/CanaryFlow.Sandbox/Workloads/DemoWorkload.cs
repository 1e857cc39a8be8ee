using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Sandbox.Workloads;

/// <summary>
/// One version of a demo service (stable or canary): a Kestrel app on 127.0.0.1 with a free port
/// that answers "/" with the configured error rate and latency, and exports Istio-style metrics on
/// "/metrics" for a real Prometheus to scrape. The behaviour can change while it runs.
/// </summary>
public sealed class DemoWorkload : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IstioStyleMetrics _metrics;
    private readonly TimeProvider _time;
    private WorkloadBehaviour _behaviour;
    private long _served;
    private long _errorsServed;

    private DemoWorkload(DemoWorkloadOptions options, TimeProvider time)
    {
        Options = options;
        _time = time;
        _behaviour = options.Behaviour ?? WorkloadBehaviour.Healthy;
        _behaviour.Validate();
        _metrics = new IstioStyleMetrics(options);

        _app = LoopbackApp.CreateBuilder().Build();
        _app.MapGet("/", ServeAsync);
        _app.MapGet("/metrics", context => MetricsEndpoint.ExportAsync(_metrics.Registry, context));
    }

    public DemoWorkloadOptions Options { get; }

    /// <summary>Base address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>host:port for a Prometheus scrape config.</summary>
    public string ScrapeTarget => $"{Address.Host}:{Address.Port}";

    public long RequestsServed => Interlocked.Read(ref _served);

    public WorkloadBehaviour Behaviour
    {
        get => Volatile.Read(ref _behaviour);
        set
        {
            value.Validate();
            Volatile.Write(ref _behaviour, value);
        }
    }

    public static async Task<DemoWorkload> StartAsync(DemoWorkloadOptions options, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var workload = new DemoWorkload(options, time ?? TimeProvider.System);
        await workload._app.StartAsync(cancellationToken);
        workload.Address = LoopbackApp.AddressOf(workload._app);
        return workload;
    }

    private async Task ServeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var behaviour = Behaviour;
        var n = Interlocked.Increment(ref _served);
        // Exactly ErrorRate of the requests fail, evenly spread: request n fails when the running
        // quota floor(n * rate) grows.
        var fail = Math.Floor(n * behaviour.ErrorRate) > Math.Floor((n - 1) * behaviour.ErrorRate);
        if (behaviour.Latency > TimeSpan.Zero) await Task.Delay(behaviour.Latency, _time, context.RequestAborted);
        var status = fail ? behaviour.ErrorStatusCode : StatusCodes.Status200OK;
        if (fail) Interlocked.Increment(ref _errorsServed);
        context.Response.StatusCode = status;
        await context.Response.WriteAsync(fail ? "simulated failure\n" : $"{Options.Workload} ok\n", context.RequestAborted);
        _metrics.Record(status, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

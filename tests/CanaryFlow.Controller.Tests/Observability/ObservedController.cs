using CanaryFlow.Controller.Tests.Infrastructure;
using System.Net.Http.Json;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Observability;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Web;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace CanaryFlow.Controller.Tests.Observability;

/// <summary>
/// The controller's web app as the host wires it (engine on the in-memory bus, observability, status
/// page, status API) on Kestrel at 127.0.0.1 on a free port, with a fake clock the test moves and a
/// <see cref="MeasuredWorld"/> as cluster. (Shared as a linked source file with the browser tests.)
/// </summary>
public sealed class ObservedController : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);


    private readonly WebApplication _app;

    private ObservedController(WebApplication app, FakeTimeProvider clock, MeasuredWorld world, string reports)
    {
        _app = app;
        Clock = clock;
        World = world;
        ReportsDirectory = reports;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri BaseAddress { get; }
    public HttpClient Http { get; }
    public FakeTimeProvider Clock { get; }
    public MeasuredWorld World { get; }
    public string ReportsDirectory { get; }
    public IServiceProvider Services => _app.Services;
    public CanaryFlowMetrics Metrics => _app.Services.GetRequiredService<CanaryFlowMetrics>();

    public static async Task<ObservedController> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        var world = new MeasuredWorld();
        var folder = Directory.CreateTempSubdirectory("canaryflow-observed-").FullName;
        var reports = Path.Combine(folder, "reports");
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Bus:Transport"] = "InMemory",
            ["Rollouts:StateDirectory"] = Path.Combine(folder, "state"),
            ["Rollouts:TickPeriod"] = "00:01:00", // the test ticks by hand; the hosted ticker stays quiet
            ["Rollouts:StallAfter"] = "01:00:00",
            ["Observability:ReportsDirectory"] = reports,
        });
        if (settings != null) builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton(TestLogging.Shared);
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddSingleton<ITrafficRouter>(world);
        builder.Services.AddSingleton<IWorkloadController>(world);
        builder.Services.AddSingleton<IAnalysisRunner>(world);
        builder.Services.AddSingleton(new CanaryFlowMetrics(Prometheus.Metrics.NewCustomRegistry()));
        builder.AddCanaryFlowObservability();
        builder.Services.AddCanaryFlowEngine(builder.Configuration, x => x.AddCanaryFlowObservabilityConsumers());

        var app = builder.Build();
        app.MapRolloutsApi();
        app.MapStatusPage();
        app.MapCanaryFlowObservability();
        await app.StartAsync();
        return new ObservedController(app, clock, world, reports);
    }

    public Task Request(RolloutTarget target, string revision, params int[] steps)
    {
        var plan = new RolloutPlan(steps, Interval, FailureLimit: 1, InconclusiveLimit: 0, ErrorLimit: 0, TimeSpan.FromMinutes(30), [], false,
            new AnalysisSpec(10, [new MetricSpec(RolloutTimeline.SuccessRateMetric, Min: 99), new MetricSpec(RolloutTimeline.DurationMetric, Max: 500)]));
        return _app.Services.GetRequiredService<IBus>().Publish(new RolloutRequested(RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, revision),
            target, revision, $"shop/{target.Name}:{revision}", plan, "test", "new revision", Clock.GetUtcNow()));
    }

    /// <summary>Moves the clock one analysis interval on and lets the ticker look at every rollout.</summary>
    public async Task Tick()
    {
        Clock.Advance(Interval);
        await _app.Services.GetRequiredService<RolloutTicker>().TickAsync(CancellationToken.None);
    }

    /// <summary>Reads the status API until the rollout satisfies <paramref name="condition"/> (bounded).</summary>
    public async Task<RolloutStatusView> Until(RolloutTarget target, Func<RolloutStatusView, bool> condition, string what)
    {
        RolloutStatusView? last = null;
        for (var i = 0; i < 1500; i++)
        {
            using var response = await Http.GetAsync($"/api/rollouts/{target.Namespace}/{target.Name}");
            if (response.IsSuccessStatusCode)
            {
                last = await response.Content.ReadFromJsonAsync<RolloutStatusView>();
                if (last != null && condition(last)) return last;
            }
            await Task.Delay(10);
        }
        throw new InvalidOperationException($"Timed out waiting for {what}; last seen {last?.Phase} at {last?.CanaryWeight}%");
    }

    /// <summary>Runs the rollout step by step until it reaches a finished phase.</summary>
    public async Task<RolloutStatusView> RunToEnd(RolloutTarget target, int maxTicks = 20)
    {
        for (var i = 0; i < maxTicks; i++)
            if (!await Step(target)) return await Until(target, IsFinished, "finished");
        throw new InvalidOperationException($"rollout of {target} not finished after {maxTicks} ticks");
    }

    /// <summary>Waits until the durable state shows a check scheduled and no command pending, then moves the
    /// clock one interval on and waits for the next transition. False when the rollout has finished.</summary>
    public async Task<bool> Step(RolloutTarget target)
    {
        var store = _app.Services.GetRequiredService<IRolloutStore>();
        var id = RolloutIds.ForTarget(target);
        RolloutState? state = null;
        for (var poll = 0; poll < 1500; poll++)
        {
            state = (await store.LoadAllAsync(CancellationToken.None)).FirstOrDefault(s => s.CorrelationId == id);
            if (state is { CurrentState: RolloutPhases.Succeeded or RolloutPhases.Failed }) return false;
            if (state is { Pending: null, NextAnalysisAt: not null } && state.AppliedWeight > 0) break;
            await Task.Delay(10);
        }
        await Tick();
        await Until(target, v => v.LastTransitionAt > state!.LastTransitionAt || IsFinished(v), "next transition");
        return true;
    }

    public static bool IsFinished(RolloutStatusView v) => v.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

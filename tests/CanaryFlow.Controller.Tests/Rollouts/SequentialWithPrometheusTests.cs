using System.Text.Json.Nodes;
using CanaryFlow.Analysis;
using CanaryFlow.Cli;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Web;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Sandbox.Workloads;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// The engine in sequential mode end to end: saga, ticker, the real sequential runner, a real Prometheus
/// scraping Istio-style counters that follow the weights the engine applies. The fake clock is moved on
/// with real time, so the runner's queries ask Prometheus about now.
/// </summary>
public sealed class SequentialWithPrometheusTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");

    private static RolloutPlan Plan => TestPlans.Steps(10, 20) with
    {
        AnalysisInterval = TimeSpan.FromSeconds(3),
        ErrorLimit = 3,
        InconclusiveLimit = 3,
        Analysis = new AnalysisSpec(5, [], null, new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10))),
    };

    /// <summary>Requests every 100 ms split by the world's canary weight; the canary answers 503 when told to.</summary>
    private sealed class Mesh : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(3));
        private Task _traffic = Task.CompletedTask;
        public required MeshMetricsExporter Exporter { get; init; }
        public required PrometheusProcess Prometheus { get; init; }
        public volatile bool CanaryFails;

        public static async Task<Mesh> StartAsync(InMemoryWorld world)
        {
            var exporter = await MeshMetricsExporter.StartAsync();
            var mesh = new Mesh { Exporter = exporter, Prometheus = await PrometheusProcess.StartAsync([exporter.ScrapeTarget]) };
            mesh._traffic = mesh.RunAsync(world);
            return mesh;
        }

        private async Task RunAsync(InMemoryWorld world)
        {
            var share = 0.0;
            while (!_stop.IsCancellationRequested)
            {
                share += 5 * world[Target].CanaryWeight / 100.0;
                var canary = (int)share;
                share -= canary;
                if (canary > 0) Exporter.Record(Target.Namespace, WorkloadNames.Canary(Target), CanaryFails ? 503 : 200, 20, canary);
                if (canary < 5) Exporter.Record(Target.Namespace, WorkloadNames.Stable(Target), 200, 20, 5 - canary);
                try { await Task.Delay(100, _stop.Token); } catch (OperationCanceledException) { }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _traffic;
            await Prometheus.DisposeAsync();
            await Exporter.DisposeAsync();
            _stop.Dispose();
        }
    }

    private static async Task<EngineUnderTest> EngineAsync(Mesh mesh, InMemoryWorld world)
    {
        var options = new PrometheusOptions
        {
            Address = mesh.Prometheus.Address.ToString(), AttemptTimeout = TimeSpan.FromSeconds(1), QueryTimeout = TimeSpan.FromSeconds(2),
            MaxRetries = 1, RetryBaseDelay = TimeSpan.FromMilliseconds(50), CircuitBreakDuration = TimeSpan.FromSeconds(1),
            BatchWindow = TimeSpan.FromMilliseconds(200),
        };
        var client = new PrometheusClient(options, TimeProvider.System);
        return await EngineUnderTest.StartAsync(world, clock: new FakeTimeProvider(DateTimeOffset.UtcNow), extra: (services, _) => services
            .AddSingleton(client)
            .AddSingleton<ISequentialAnalysisRunner>(sp => new SequentialAnalysisRunner(client, options, TimeProvider.System, sp.GetRequiredService<IAnalysisRunner>())));
    }

    /// <summary>Moves the engine's clock with real time, a tick every 500 ms, until the condition holds (bounded).</summary>
    private static async Task<RolloutState> DriveUntil(EngineUnderTest e, Func<RolloutState, bool> condition, string what, int maxTicks = 80)
    {
        RolloutState? s = null;
        for (var i = 0; i < maxTicks; i++)
        {
            await Task.Delay(500);
            await e.Tick(DateTimeOffset.UtcNow - e.Clock.GetUtcNow() is { Ticks: > 0 } behind ? behind : TimeSpan.Zero);
            s = await e.Find(Target);
            if (s != null && condition(s)) return s;
        }
        throw new Xunit.Sdk.XunitException($"{what} did not happen; rollout is {EngineUnderTest.Describe(s)}; last evidence: {s?.LastEvidence?.Summary}");
    }

    [Fact]
    public async Task A_canary_failing_every_request_is_rolled_back_by_the_error_rate_test_at_its_first_step()
    {
        var world = new InMemoryWorld();
        await using var mesh = await Mesh.StartAsync(world);
        mesh.CanaryFails = true;
        await using var e = await EngineAsync(mesh, world);
        await e.Request(Target, "v2", Plan);

        var s = await DriveUntil(e, x => x.CurrentState == RolloutPhases.Failed, "rollback");
        Assert.Contains("error-rate test rejected", s.LastReason);
        Assert.Contains("α spent", s.LastReason);
        Assert.Equal([10, 0], world[Target].AppliedWeights);
        Assert.Equal(1, s.FailedChecks); // failureLimit is 2: the test's rejection is enough
    }

    [Fact]
    public async Task A_prometheus_outage_holds_a_healthy_canary_visibly_and_the_rollout_goes_on_when_it_answers()
    {
        var world = new InMemoryWorld();
        await using var mesh = await Mesh.StartAsync(world);
        await using var e = await EngineAsync(mesh, world);
        await e.Request(Target, "v2", Plan);
        await DriveUntil(e, x => x.AppliedWeight == 10 && x.SequentialEvidence != null, "first evidence at 10%");

        await mesh.Prometheus.StopAsync();
        var held = await DriveUntil(e, x => x.MetricsDownSince is { } d && x.LastAnalysisAt - d >= TimeSpan.FromSeconds(5), "five seconds of outage");
        Assert.Equal((RolloutPhases.Progressing, 10), (held.CurrentState, held.AppliedWeight)); // errorLimit 3 at 1 s ticks is long past
        Assert.Contains("holding at 10%", held.LastReason);
        HoldIsVisible(held);
        var holding = await Transition(e, t => t.HoldingSince != null);
        Assert.Equal((RolloutPhases.Holding, "Warning"), (CanaryEventRecorder.Reason(holding), CanaryEventRecorder.Type(holding)));
        Assert.Contains("does not answer", holding.Reason);

        await mesh.Prometheus.StartAsync();
        var done = await DriveUntil(e, x => x.CurrentState == RolloutPhases.Succeeded, "promotion after the outage");
        Assert.Null(done.MetricsDownSince);
        Assert.Equal([10, 20, 0], world[Target].AppliedWeights);
        // The next announcement after the hold says it is over, whatever the first answering check said.
        var resumed = await Transition(e, t => t.HoldingSince == null && t.Version > holding.Version);
        Assert.Equal((RolloutPhases.Progressing, "Normal"), (CanaryEventRecorder.Reason(resumed), CanaryEventRecorder.Type(resumed)));
        Assert.Contains("answers again", resumed.Reason);
        Assert.Equal("False", (string?)Condition(done)?["status"]);
    }

    /// <summary>What people see of a held rollout: the status API, the CLI and the Canary's phase say Holding, and the Canary has a Holding condition.</summary>
    private static void HoldIsVisible(RolloutState held)
    {
        var view = RolloutsApi.View(held, new RolloutHistory(), withHistory: false);
        Assert.Equal(held.MetricsDownSince, view.HoldingSince);
        Assert.Equal(RolloutPhases.Holding, StatusRenderer.Phase(view));
        var panel = new StringWriter();
        StatusRenderer.WriteStatus(panel, view);
        Assert.Contains("holding   since", panel.ToString());
        var status = new JsonObject();
        CanaryStatusView.Apply(status, held, generation: 1);
        Assert.Equal(RolloutPhases.Holding, (string?)status["phase"]); // kubectl get canary shows why the weights stand still
        var condition = Condition(held)!;
        Assert.Equal(("True", "MetricsSourceDown"), ((string?)condition["status"], (string?)condition["reason"]));
    }

    private static JsonObject? Condition(RolloutState s)
    {
        var status = new JsonObject();
        CanaryStatusView.Apply(status, s, generation: 1);
        return ((JsonArray)status["conditions"]!).OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == RolloutPhases.Holding);
    }

    private static async Task<RolloutTransitioned> Transition(EngineUnderTest e, Func<RolloutTransitioned, bool> match)
    {
        Assert.True(await e.Harness.Published.Any<RolloutTransitioned>(x => match(x.Context.Message)), "no such transition was announced");
        return e.Harness.Published.Select<RolloutTransitioned>(x => match(x.Context.Message)).Select(x => x.Context.Message).MinBy(t => t.Version)!;
    }
}

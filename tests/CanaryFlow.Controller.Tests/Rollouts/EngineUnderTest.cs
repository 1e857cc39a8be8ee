using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// The real rollout engine (saga, workers, ticker, file store) on MassTransit's test harness, with a
/// fake clock that the test advances and an in-memory world in place of the cluster.
/// </summary>
public sealed class EngineUnderTest : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public FakeTimeProvider Clock { get; }
    public InMemoryWorld World { get; }
    public string StateDirectory { get; }
    public ITestHarness Harness { get; }
    public IServiceProvider Services => _services;

    private EngineUnderTest(ServiceProvider services, FakeTimeProvider clock, InMemoryWorld world, string stateDirectory)
    {
        _services = services;
        Clock = clock;
        World = world;
        StateDirectory = stateDirectory;
        Harness = services.GetRequiredService<ITestHarness>();
    }

    /// <param name="extra">More services and consumers next to the engine (e.g. notifications).</param>
    /// <param name="settings">Configuration on top of the defaults (e.g. <c>Rollouts:MaxActive</c>).</param>
    public static async Task<EngineUnderTest> StartAsync(InMemoryWorld? world = null, string? stateDirectory = null, FakeTimeProvider? clock = null,
        Action<IServiceCollection, IBusRegistrationConfigurator>? extra = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        world ??= new InMemoryWorld();
        clock ??= new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        stateDirectory ??= Directory.CreateTempSubdirectory("canaryflow-test-").FullName;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rollouts:StateDirectory"] = stateDirectory,
            ["Rollouts:StallAfter"] = "00:00:30",
        }).AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton<ITrafficRouter>(world);
        services.AddSingleton<IWorkloadController>(world);
        services.AddSingleton<IAnalysisRunner>(world);
        services.AddRolloutEngineServices(configuration);
        services.AddMassTransitTestHarness(x =>
        {
            x.AddRolloutEngine();
            extra?.Invoke(services, x);
        });
        // A consumer still waiting when the test ends (a gate a failed assertion never opened) is cancelled, so the
        // engine's stop ends instead of waiting for it forever.
        services.Configure<MassTransitHostOptions>(o => (o.StopTimeout, o.ConsumerStopTimeout) = (TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)));
        var provider = services.BuildServiceProvider(validateScopes: true);

        await provider.GetRequiredService<RolloutRehydrator>().LoadAsync(CancellationToken.None);
        var engine = new EngineUnderTest(provider, clock, world, stateDirectory);
        await engine.Harness.Start();
        return engine;
    }

    public Task Publish<T>(T message) where T : class => Harness.Bus.Publish(message);

    public Task Request(RolloutTarget target, string revision, RolloutPlan plan) => Publish(TestPlans.Request(target, revision, plan));

    /// <summary>Moves the clock on (one analysis interval by default) and lets the ticker look at every rollout.</summary>
    public async Task Tick(TimeSpan? advance = null)
    {
        Clock.Advance(advance ?? TestPlans.Interval);
        await _services.GetRequiredService<RolloutTicker>().TickAsync(CancellationToken.None);
    }

    /// <summary>Ticks (each time advancing the clock by <paramref name="advance"/>) until <paramref name="condition"/> holds,
    /// waiting up to a second after each tick (bounded: 10 ticks). One tick can come too early: the ticker does not ask
    /// again while the last copy of a command is still on its way, and a tick taken then finds nothing due.</summary>
    public async Task TickUntil(Func<bool> condition, TimeSpan advance, string what)
    {
        for (var tick = 0; tick < 10; tick++)
        {
            await Tick(advance);
            for (var wait = DateTime.UtcNow.AddSeconds(1); DateTime.UtcNow < wait; await Task.Delay(5))
                if (condition()) return;
        }
        throw new Xunit.Sdk.XunitException($"Timed out ticking until {what}");
    }

    public async Task<RolloutState?> Find(RolloutTarget target)
    {
        var id = RolloutIds.ForTarget(target);
        return (await _services.GetRequiredService<IRolloutStore>().LoadAllAsync(CancellationToken.None)).FirstOrDefault(s => s.CorrelationId == id);
    }

    /// <summary>Waits until the durable state of the target's rollout satisfies <paramref name="condition"/>.</summary>
    public async Task<RolloutState> Until(RolloutTarget target, Func<RolloutState, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        RolloutState? state = null;
        while (DateTime.UtcNow < deadline)
        {
            state = await Find(target);
            if (state != null && condition(state)) return state;
            await Task.Delay(5);
        }
        throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}; rollout is {Describe(state)}");
    }

    /// <summary>Waits until the saga has consumed a message matching <paramref name="filter"/>.</summary>
    public async Task Consumed<T>(Func<T, bool> filter) where T : class
    {
        var saga = Harness.GetSagaStateMachineHarness<RolloutStateMachine, RolloutState>();
        Assert.True(await saga.Consumed.Any<T>(x => filter(x.Context.Message)), $"saga never consumed {typeof(T).Name}");
    }

    public static string Describe(RolloutState? s) => s is null ? "absent" :
        $"{s.CurrentState} step {s.StepIndex} desired {s.DesiredWeight} applied {s.AppliedWeight} pending {s.Pending} failed {s.FailedChecks}: {s.LastReason}";

    public async ValueTask DisposeAsync()
    {
        try { await Harness.Stop().WaitAsync(TimeSpan.FromSeconds(60)); }
        catch (TimeoutException) { throw new Xunit.Sdk.XunitException("the engine under test did not stop within 60 s"); }
        await _services.DisposeAsync();
    }
}

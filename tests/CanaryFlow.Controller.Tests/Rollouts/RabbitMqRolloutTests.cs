using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>The engine end to end over the real RabbitMQ, on real time with short intervals.</summary>
public sealed class RabbitMqRolloutTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private static RolloutPlan Plan(params int[] steps) => TestPlans.Steps(steps) with { AnalysisInterval = Interval };

    private static async Task<IReadOnlyList<RolloutState>> StoredAsync(string directory) =>
        await new FileRolloutStore(Options.Create(new RolloutEngineOptions { StateDirectory = directory })).LoadAllAsync(CancellationToken.None);

    private static async Task<RolloutState> WaitFor(string directory, RolloutTarget target, Func<RolloutState, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var id = RolloutIds.ForTarget(target);
        RolloutState? s = null;
        while (DateTime.UtcNow < deadline)
        {
            s = (await StoredAsync(directory)).FirstOrDefault(x => x.CorrelationId == id);
            if (s != null && condition(s)) return s;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"{target}: timed out; rollout is {EngineUnderTest.Describe(s)}");
    }

    [Fact]
    public async Task A_full_rollout_promotes_over_RabbitMQ()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("full-rollout");
        var state = Directory.CreateTempSubdirectory("canaryflow-rmq-").FullName;
        var world = new InMemoryWorld();
        var target = new RolloutTarget("shop", "cart");

        var host = await ControllerHost.StartAsync(broker, vhost, state, world);
        try
        {
            var bus = (MassTransit.IBus)host.Services.GetService(typeof(MassTransit.IBus))!;
            await bus.Publish(TestPlans.Request(target, "v2", Plan(10, 20, 30, 40, 50, 60, 70, 80, 90, 100)));
            await WaitFor(state, target, s => s.CurrentState == RolloutPhases.Succeeded, TimeSpan.FromSeconds(60));
        }
        finally
        {
            await ControllerHost.KillAsync(host);
        }

        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], world[target].AppliedWeights);
        Assert.Equal("v2", world[target].StableRevision);
        Assert.Equal(0, world[target].CanaryReplicas);
    }

    [Fact]
    public async Task Killing_the_controller_mid_rollout_again_and_again_resumes_every_rollout_where_it_was()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("restarts");
        var state = Directory.CreateTempSubdirectory("canaryflow-rmq-").FullName;
        var world = new InMemoryWorld();
        var healthy = Enumerable.Range(1, 4).Select(i => new RolloutTarget("shop", $"healthy-{i}")).ToList();
        var broken = Enumerable.Range(1, 2).Select(i => new RolloutTarget("shop", $"broken-{i}")).ToList();
        foreach (var t in broken) world[t].FailFromWeight = 40;
        int[] steps = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

        var host = await ControllerHost.StartAsync(broker, vhost, state, world);
        var bus = (MassTransit.IBus)host.Services.GetService(typeof(MassTransit.IBus))!;
        foreach (var t in healthy.Concat(broken))
            await bus.Publish(TestPlans.Request(t, "v2", Plan(steps)));

        // Kill at different points of the rollouts: early, in the middle, late.
        var random = new Random(20261125);
        foreach (var after in new[] { 400, 900, 650, 1200, 300 })
        {
            await Task.Delay(after + random.Next(0, 200));
            await ControllerHost.KillAsync(host);
            host = await ControllerHost.StartAsync(broker, vhost, state, world);
        }

        try
        {
            foreach (var t in healthy)
                await WaitFor(state, t, s => s.CurrentState == RolloutPhases.Succeeded, TimeSpan.FromSeconds(90));
            foreach (var t in broken)
                await WaitFor(state, t, s => s.CurrentState == RolloutPhases.Failed, TimeSpan.FromSeconds(90));
        }
        finally
        {
            await ControllerHost.KillAsync(host);
        }

        // Every step applied once, in order, none skipped, never above plan; then stable at 100%.
        foreach (var t in healthy)
        {
            Assert.Equal([.. steps, 0], world[t].AppliedWeights);
            Assert.Equal("v2", world[t].StableRevision);
        }
        foreach (var t in broken)
        {
            Assert.Equal([10, 20, 30, 40, 0], world[t].AppliedWeights);
            Assert.Null(world[t].StableRevision);
            Assert.Equal(0, world[t].CanaryReplicas);
        }
    }
}

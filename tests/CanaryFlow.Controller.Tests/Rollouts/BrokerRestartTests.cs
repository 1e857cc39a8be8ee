using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Simulation;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>Restarting the shared broker would disturb every other RabbitMQ test: this runs alone.</summary>
[CollectionDefinition(nameof(BrokerRestart), DisableParallelization = true)]
public sealed class BrokerRestart;

[Collection(nameof(BrokerRestart))]
public sealed class BrokerRestartTests
{
    [Fact]
    public async Task A_rollout_continues_after_RabbitMQ_restarts_in_the_middle_of_it()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("broker-restart");
        var state = Directory.CreateTempSubdirectory("canaryflow-restart-").FullName;
        var world = new InMemoryWorld();
        var target = new RolloutTarget("shop", "through-a-restart");
        var host = await ControllerHost.StartAsync(broker, vhost, state, world);
        try
        {
            var bus = (MassTransit.IBus)host.Services.GetService(typeof(MassTransit.IBus))!;
            await bus.Publish(TestPlans.Request(target, "v2", TestPlans.Steps(10, 20, 30, 40, 50, 60, 70, 80, 90, 100) with
            {
                AnalysisInterval = TimeSpan.FromMilliseconds(400),
            }));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (world[target].CanaryWeight < 30 && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.True(world[target].CanaryWeight >= 30, "the rollout should be under way before the restart");

            await broker.RestartAsync();

            deadline = DateTime.UtcNow.AddSeconds(90);
            while (world[target].StableRevision != "v2" && DateTime.UtcNow < deadline) await Task.Delay(100);
            // The promotion's reply reaches the saga after the world changed: wait for the stored end, or the kill below
            // may come between the two (a rollout killed in Promoting resumes it, which is right, but is not this test).
            while (await StoredPhase(state) != RolloutPhases.Succeeded && DateTime.UtcNow < deadline) await Task.Delay(100);
        }
        finally
        {
            await ControllerHost.KillAsync(host);
        }

        Assert.Equal("v2", world[target].StableRevision);
        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], world[target].AppliedWeights);
        Assert.Equal(RolloutPhases.Succeeded, await StoredPhase(state));
    }

    private static async Task<string?> StoredPhase(string state)
    {
        try
        {
            using var store = new FileRolloutStore(Options.Create(new RolloutEngineOptions { StateDirectory = state }));
            return (await store.LoadAllAsync(CancellationToken.None)).SingleOrDefault()?.CurrentState;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { return null; } // read while the controller writes: asked again
    }
}

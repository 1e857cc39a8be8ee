using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Notifications;
using CanaryFlow.Controller.Tests.Rollouts;
using CanaryFlow.Sandbox.Simulation;
using Microsoft.Extensions.Options;
using static CanaryFlow.Controller.Tests.Hooks.HookedEngine;

namespace CanaryFlow.Controller.Tests.Hooks;

/// <summary>Hooks across controller restarts: the whole controller on the real RabbitMQ, killed and started again.</summary>
public sealed class HookRestartTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private static async Task<RolloutState> WaitFor(string directory, Func<RolloutState, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90); // as the other RabbitMQ restart tests: a busy machine is slow, not wrong
        RolloutState? s = null;
        while (DateTime.UtcNow < deadline)
        {
            var store = new FileRolloutStore(Options.Create(new RolloutEngineOptions { StateDirectory = directory })); // no cache
            s = (await store.LoadAllAsync(CancellationToken.None)).FirstOrDefault(x => x.CorrelationId == RolloutIds.ForTarget(Target));
            if (s != null && condition(s)) return s;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"timed out waiting for {what}; rollout is {EngineUnderTest.Describe(s)}");
    }

    [Fact]
    public async Task Gates_and_hook_checks_carry_on_across_controller_restarts()
    {
        await using var receiver = await RecordingReceiver.StartAsync();
        var no = Enumerable.Repeat(new RecordingReceiver.Answer(403), 1000).ToArray();
        receiver.Script("confirm-rollout", no);
        receiver.Script("confirm-promotion", no);
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("hook-restarts");
        var state = Directory.CreateTempSubdirectory("canaryflow-hooks-").FullName;
        var world = new InMemoryWorld();
        var plan = With(TestPlans.Steps(10, 100) with { AnalysisInterval = Interval },
            Hook(HookTypes.ConfirmRollout, receiver.UrlFor("confirm-rollout")),
            Hook(HookTypes.PreRollout, receiver.UrlFor("pre-rollout")),
            Hook(HookTypes.Rollout, receiver.UrlFor("rollout")),
            Hook(HookTypes.ConfirmPromotion, receiver.UrlFor("confirm-promotion")),
            Hook(HookTypes.PostRollout, receiver.UrlFor("post-rollout")));

        var host = await ControllerHost.StartAsync(broker, vhost, state, world);
        try
        {
            var bus = (MassTransit.IBus)host.Services.GetService(typeof(MassTransit.IBus))!;
            await bus.Publish(TestPlans.Request(Target, "v2", plan));
            await WaitFor(state, s => s.Gate == HookTypes.ConfirmRollout, "the confirm-rollout gate");
            await receiver.WaitUntilAsync(r => r.For("confirm-rollout").Count >= 2, "the gate asked twice");

            await ControllerHost.KillAsync(host);
            receiver.Script("confirm-rollout"); // says yes from now on, while no controller runs
            host = await ControllerHost.StartAsync(broker, vhost, state, world);

            await WaitFor(state, s => s.Gate == HookTypes.ConfirmPromotion, "the confirm-promotion gate");
            await ControllerHost.KillAsync(host);
            receiver.Script("confirm-promotion");
            host = await ControllerHost.StartAsync(broker, vhost, state, world);

            var done = await WaitFor(state, s => s.CurrentState == RolloutPhases.Succeeded, "promotion");
            Assert.Equal("v2", done.StableRevision);
            await receiver.WaitUntilAsync(r => r.For("post-rollout").Count >= 1, "the post-rollout hook");
        }
        finally
        {
            await ControllerHost.KillAsync(host);
        }

        // Every step once, in order, and the pre-rollout check before any of them.
        Assert.Equal([10, 100, 0], world[Target].AppliedWeights);
        Assert.Single(receiver.For("pre-rollout"));
        Assert.NotEmpty(receiver.For("rollout"));
        Assert.All(receiver.For("rollout"), r => Assert.DoesNotContain("\"weight\":0", r.Body));
    }
}

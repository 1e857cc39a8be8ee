using System.Collections.Concurrent;
using CanaryFlow.Cli;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Rollouts;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Cli;

/// <summary>
/// Commands sent with only --rabbitmq (issue 11: "promote ns/unknown" exited 0 and said "published"):
/// the CLI asks the running controller over the same broker whether the target has a rollout, and
/// publishes only if it does. A whole controller host runs on the real RabbitMQ.
/// </summary>
public sealed class CliBusCheckTests
{
    private static readonly RolloutTarget Cart = new("shop", "cart");

    [Fact]
    public async Task Over_the_bus_alone_a_command_for_an_unknown_rollout_exits_3_a_known_one_is_carried_out_and_no_controller_exits_4()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("cli-bus-check");
        var uri = $"amqp://guest:guest@127.0.0.1:{broker.Port}/{vhost}";
        var state = Directory.CreateTempSubdirectory("canaryflow-cli-").FullName;
        var published = new ConcurrentQueue<object>();
        var recorder = await RecordCommandsAsync(broker, vhost, published);
        var host = await ControllerHost.StartAsync(broker, vhost, state, new InMemoryWorld());
        try
        {
            await host.Services.GetRequiredService<IBus>().Publish(TestPlans.Request(Cart, "v2", TestPlans.TenToHundred));
            await WaitForAsync(state, s => s.CurrentState == RolloutPhases.Progressing);

            var unknown = await CliTests.RunAsync("promote", "shop/unknown", "--rabbitmq", uri);
            Assert.Equal(ExitCodes.NotFound, unknown.Code);
            Assert.Contains("No rollout for shop/unknown", unknown.Err);
            Assert.DoesNotContain("published for", unknown.Out);

            var known = await CliTests.RunAsync("pause", "shop/cart", "--rabbitmq", uri, "--reason", "dashboards");
            Assert.Equal(ExitCodes.Ok, known.Code);
            await WaitForAsync(state, s => s.CurrentState == RolloutPhases.Paused);
            for (var i = 0; i < 100 && published.IsEmpty; i++) await Task.Delay(50);
        }
        finally
        {
            await ControllerHost.KillAsync(host);
        }

        var noController = await CliTests.RunAsync("promote", "shop/cart", "--rabbitmq", uri, "--timeout", "1");
        Assert.Equal(ExitCodes.Unreachable, noController.Code);
        Assert.Contains("No CanaryFlow controller answered", noController.Err);
        await recorder.StopAsync();

        // Only the command for the known rollout ever reached the broker.
        Assert.Equal([typeof(PauseRollout)], published.Select(m => m.GetType()));
    }

    private static async Task<IBusControl> RecordCommandsAsync(RabbitMqBroker broker, string vhost, ConcurrentQueue<object> published)
    {
        var bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host("127.0.0.1", (ushort)broker.Port, vhost, h => { h.Username("guest"); h.Password("guest"); });
            cfg.ReceiveEndpoint("cli-bus-check-recorder", e =>
            {
                e.Handler<PromoteRollout>(c => { published.Enqueue(c.Message); return Task.CompletedTask; });
                e.Handler<PauseRollout>(c => { published.Enqueue(c.Message); return Task.CompletedTask; });
            });
        });
        using var start = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await bus.StartAsync(start.Token);
        return bus;
    }

    private static async Task WaitForAsync(string directory, Func<RolloutState, bool> condition)
    {
        var id = RolloutIds.ForTarget(Cart);
        RolloutState? last = null;
        for (var i = 0; i < 600; i++)
        {
            // A new store each time: the file store reads its folder once, when it is made.
            var store = new FileRolloutStore(Options.Create(new RolloutEngineOptions { StateDirectory = directory }));
            last = (await store.LoadAllAsync(CancellationToken.None)).FirstOrDefault(s => s.CorrelationId == id);
            if (last is not null && condition(last)) return;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"{Cart}: timed out; rollout is {EngineUnderTest.Describe(last)}");
    }
}

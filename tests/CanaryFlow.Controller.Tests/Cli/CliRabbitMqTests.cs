using System.Collections.Concurrent;
using CanaryFlow.Cli;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Tests.ChatOps;
using CanaryFlow.Controller.Tests.Infrastructure;
using MassTransit;

namespace CanaryFlow.Controller.Tests.Cli;

/// <summary>The CLI end to end over a real RabbitMQ: what it publishes, a MassTransit consumer on the same broker receives.</summary>
public sealed class CliRabbitMqTests(SharedRabbitMq rabbit) : IClassFixture<SharedRabbitMq>, IAsyncLifetime
{
    private RabbitMqBroker Broker => rabbit.Broker;

    private readonly ConcurrentQueue<object> _received = new();
    private IBusControl _bus = null!;
    private LocalWebApp _controller = null!;

    public async Task InitializeAsync()
    {
        _controller = await FakeControllerApi.StartAsync();
        _bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host("127.0.0.1", (ushort)Broker.Port, "/", h => { h.Username("guest"); h.Password("guest"); });
            cfg.ReceiveEndpoint("canaryflow-cli-test-" + Guid.NewGuid().ToString("N"), e =>
            {
                e.AutoDelete = true;
                e.Durable = false;
                // One message at a time: the test asserts the order the CLI published in, and a concurrent endpoint may
                // record two deliveries in either order (CI saw resume and promote swapped once).
                e.ConcurrentMessageLimit = 1;
                e.Handler<PromoteRollout>(c => Record(c.Message));
                e.Handler<AbortRollout>(c => Record(c.Message));
                e.Handler<PauseRollout>(c => Record(c.Message));
                e.Handler<ResumeRollout>(c => Record(c.Message));
                e.Handler<RetryRollout>(c => Record(c.Message));
            });
        });
        using var start = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _bus.StartAsync(start.Token);
    }

    private Task Record(object message)
    {
        _received.Enqueue(message);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _bus.StopAsync();
        await _controller.DisposeAsync();
    }

    [Fact]
    public async Task Pause_resume_promote_abort_and_retry_reach_a_consumer_on_the_broker_with_actor_and_reason()
    {
        var common = new[] { "--rabbitmq", Broker.AmqpUri.ToString(), "--controller", _controller.BaseAddress.ToString(), "--actor", "cli:alice" };
        Assert.Equal(ExitCodes.Ok, (await CliTests.RunAsync(["pause", "shop/checkout", "--reason", "checking dashboards", .. common])).Code);
        Assert.Equal(ExitCodes.Ok, (await CliTests.RunAsync(["resume", "shop/checkout", .. common])).Code);
        Assert.Equal(ExitCodes.Ok, (await CliTests.RunAsync(["promote", "shop/checkout", "--reason", "looks good", .. common])).Code);
        Assert.Equal(ExitCodes.Ok, (await CliTests.RunAsync(["abort", "shop/checkout", "--reason", "errors up", .. common])).Code);
        Assert.Equal(ExitCodes.Ok, (await CliTests.RunAsync(["retry", "shop/checkout", "--reason", "fixed config", .. common])).Code);

        for (var i = 0; i < 300 && _received.Count < 5; i++) await Task.Delay(100);
        var target = FakeControllerApi.Known;
        var id = RolloutIds.ForTarget(target);
        Assert.Equal(
            new object[]
            {
                new PauseRollout(id, target, "cli:alice", "checking dashboards"),
                new ResumeRollout(id, target, "cli:alice", "resume from the command line"),
                new PromoteRollout(id, target, "cli:alice", "looks good"),
                new AbortRollout(id, target, "cli:alice", "errors up"),
                new RetryRollout(id, target, "cli:alice", "fixed config"),
            },
            _received.ToArray());
    }

    [Fact]
    public async Task Wrong_broker_credentials_exit_4_and_never_show_the_password()
    {
        var uri = $"amqp://guest:not-the-password@127.0.0.1:{Broker.Port}/";
        var (code, _, error) = await CliTests.RunAsync("promote", "shop/checkout", "--rabbitmq", uri);
        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.DoesNotContain("not-the-password", error);
        Assert.Empty(_received);
    }
}

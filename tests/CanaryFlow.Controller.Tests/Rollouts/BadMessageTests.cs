using System.Text;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Simulation;
using RabbitMQ.Client;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>Messages that do not honour the contracts go to an error or skipped queue with the reason,
/// and the consumer goes on with the next message.</summary>
public sealed class BadMessageTests
{
    private const string Queue = "canaryflow-rollouts";

    private static async Task PublishRaw(IChannel channel, string exchange, string messageType, string messageJson)
    {
        var envelope = $$"""{"messageId":"{{Guid.NewGuid()}}","messageType":["urn:message:{{messageType}}"],"message":{{messageJson}}}""";
        var props = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true };
        await channel.BasicPublishAsync(exchange, "", mandatory: false, props, Encoding.UTF8.GetBytes(envelope));
    }

    /// <summary>Waits until a queue holds at least <paramref name="atLeast"/> messages; MassTransit creates
    /// the _error and _skipped queues on first use. A passive declare of a missing queue closes the
    /// channel, so each look uses its own.</summary>
    private static async Task<uint> WaitForMessages(IConnection connection, string queue, uint atLeast)
    {
        uint count = 0;
        for (var i = 0; i < 300 && count < atLeast; i++)
        {
            await using var look = await connection.CreateChannelAsync();
            try { count = (await look.QueueDeclarePassiveAsync(queue)).MessageCount; }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException) { count = 0; }
            if (count < atLeast) await Task.Delay(100);
        }
        return count;
    }

    [Fact]
    public async Task Messages_with_missing_fields_or_unknown_types_are_set_aside_and_valid_ones_still_run()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("bad-messages");
        var state = Directory.CreateTempSubdirectory("canaryflow-bad-").FullName;
        var world = new InMemoryWorld();
        var host = await ControllerHost.StartAsync(broker, vhost, state, world);
        try
        {
            var factory = new ConnectionFactory { HostName = "127.0.0.1", Port = broker.Port, VirtualHost = vhost };
            await using var connection = await factory.CreateConnectionAsync();
            await using var channel = await connection.CreateChannelAsync();

            // A request without target, plan or revision: fails to deserialize.
            await PublishRaw(channel, "CanaryFlow.Contracts:RolloutRequested", "CanaryFlow.Contracts:RolloutRequested",
                $$"""{"correlationId":"{{Guid.NewGuid()}}","actor":"fuzz"}""");
            // Not JSON at all inside a valid envelope shape.
            await PublishRaw(channel, "CanaryFlow.Contracts:PromoteRollout", "CanaryFlow.Contracts:PromoteRollout", "\"promote everything\"");
            // A future version of a contract nobody here consumes, sent straight to the saga's queue.
            await PublishRaw(channel, "", "CanaryFlow.Contracts:RolloutRequestedV9", "{}");
            var directProps = new BasicProperties { ContentType = "application/vnd.masstransit+json" };
            await channel.BasicPublishAsync("", Queue, false, directProps,
                Encoding.UTF8.GetBytes("""{"messageId":"6b6f3d58-5d2e-4b0c-9a0e-000000000001","messageType":["urn:message:CanaryFlow.Contracts:RolloutRequestedV9"],"message":{}}"""));

            Assert.True(await WaitForMessages(connection, Queue + "_error", 2) >= 2, "malformed messages should be in the error queue");
            Assert.True(await WaitForMessages(connection, Queue + "_skipped", 1) >= 1, "an unknown message type should be in the skipped queue");

            var error = await channel.BasicGetAsync(Queue + "_error", autoAck: false);
            Assert.NotNull(error);
            var reason = Encoding.UTF8.GetString((byte[])error!.BasicProperties.Headers!["MT-Fault-Message"]!);
            Assert.False(string.IsNullOrWhiteSpace(reason));

            // The consumer is still there: a valid request runs.
            var target = new RolloutTarget("shop", "after-bad-input");
            var bus = (MassTransit.IBus)host.Services.GetService(typeof(MassTransit.IBus))!;
            await bus.Publish(TestPlans.Request(target, "v2", TestPlans.Steps(10) with { AnalysisInterval = TimeSpan.FromMilliseconds(200) }));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (world[target].StableRevision != "v2" && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.Equal("v2", world[target].StableRevision);
        }
        finally
        {
            await ControllerHost.KillAsync(host);
        }
    }
}

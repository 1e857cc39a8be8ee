using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Rollouts;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RabbitMQ.Client;

namespace CanaryFlow.Controller.Tests.Bus;

/// <summary>What goes over the wire, on the real RabbitMQ with a whole controller host: messages that do not honour the
/// contracts go to an error or skipped queue with the reason, and the consumer goes on with the next message; messages
/// are written as compact JSON (MassTransit indents its envelope unless told not to), and one indented as an earlier
/// version of the controller wrote it is still read (whitespace is no part of a contract).</summary>
public sealed class BusWireTests : IAsyncLifetime
{
    private const string Queue = "canaryflow-rollouts";
    private const string RequestsExchange = "CanaryFlow.Contracts:RolloutRequested";
    private readonly InMemoryWorld _world = new();
    private IHost _host = null!;
    private IConnection _connection = null!;
    private IChannel _channel = null!;

    public async Task InitializeAsync()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("bus-wire");
        _host = await ControllerHost.StartAsync(broker, vhost, Directory.CreateTempSubdirectory("canaryflow-wire-").FullName, _world);
        _connection = await new ConnectionFactory { HostName = "127.0.0.1", Port = broker.Port, VirtualHost = vhost }.CreateConnectionAsync();
        _channel = await _connection.CreateChannelAsync();
    }

    public async Task DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
        await ControllerHost.KillAsync(_host);
    }

    private static RolloutPlan Quick => TestPlans.Steps(10, 50) with { AnalysisInterval = TimeSpan.FromMilliseconds(200) };

    private async Task PromotedAsync(params RolloutTarget[] targets)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (targets.Any(t => _world[t].StableRevision != "v2") && DateTime.UtcNow < deadline) await Task.Delay(50);
        foreach (var t in targets) Assert.Equal("v2", _world[t].StableRevision);
    }

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
        // A request without target, plan or revision: fails to deserialize.
        await PublishRaw(_channel, RequestsExchange, "CanaryFlow.Contracts:RolloutRequested",
            $$"""{"correlationId":"{{Guid.NewGuid()}}","actor":"fuzz"}""");
        // Not JSON at all inside a valid envelope shape.
        await PublishRaw(_channel, "CanaryFlow.Contracts:PromoteRollout", "CanaryFlow.Contracts:PromoteRollout", "\"promote everything\"");
        // A future version of a contract nobody here consumes, sent straight to the saga's queue.
        await PublishRaw(_channel, "", "CanaryFlow.Contracts:RolloutRequestedV9", "{}");
        var directProps = new BasicProperties { ContentType = "application/vnd.masstransit+json" };
        await _channel.BasicPublishAsync("", Queue, false, directProps,
            Encoding.UTF8.GetBytes("""{"messageId":"6b6f3d58-5d2e-4b0c-9a0e-000000000001","messageType":["urn:message:CanaryFlow.Contracts:RolloutRequestedV9"],"message":{}}"""));

        Assert.True(await WaitForMessages(_connection, Queue + "_error", 2) >= 2, "malformed messages should be in the error queue");
        Assert.True(await WaitForMessages(_connection, Queue + "_skipped", 1) >= 1, "an unknown message type should be in the skipped queue");

        var error = await _channel.BasicGetAsync(Queue + "_error", autoAck: false);
        Assert.NotNull(error);
        var reason = Encoding.UTF8.GetString((byte[])error!.BasicProperties.Headers!["MT-Fault-Message"]!);
        Assert.False(string.IsNullOrWhiteSpace(reason));

        // The consumer is still there: a valid request runs.
        var target = new RolloutTarget("shop", "after-bad-input");
        await _host.Services.GetRequiredService<IBus>().Publish(TestPlans.Request(target, "v2", Quick));
        await PromotedAsync(target);
    }

    [Fact]
    public async Task Messages_are_written_compact_and_an_indented_one_from_an_earlier_version_still_runs_its_rollout()
    {
        // A queue of this test's own beside the engine's: a copy of every request the bus writes.
        var copies = (await _channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await _channel.QueueBindAsync(copies, RequestsExchange, "");

        var (a, b) = (new RolloutTarget("shop", "compact-a"), new RolloutTarget("shop", "compact-b"));
        await _host.Services.GetRequiredService<IBus>().Publish(TestPlans.Request(a, "v2", Quick));
        var written = await TakeAsync(copies);
        var body = Encoding.UTF8.GetString(written.Body.Span);
        Assert.DoesNotContain('\n', body);
        Assert.Equal(a.Name, (string?)JsonNode.Parse(body)!["message"]!["target"]!["name"]);

        // The same envelope for another target, indented as MassTransit writes it by default (and the controller did).
        var envelope = JsonNode.Parse(body)!;
        envelope["messageId"] = Guid.NewGuid().ToString();
        envelope["message"] = JsonSerializer.SerializeToNode(TestPlans.Request(b, "v2", Quick), SystemTextJsonMessageSerializer.Options);
        var indented = envelope.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        Assert.Contains('\n', indented);
        await _channel.BasicPublishAsync(RequestsExchange, "", mandatory: false,
            new BasicProperties { ContentType = written.BasicProperties.ContentType, Persistent = true }, Encoding.UTF8.GetBytes(indented));

        await PromotedAsync(a, b);
    }

    private async Task<BasicGetResult> TakeAsync(string queue)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await _channel.BasicGetAsync(queue, autoAck: true) is { } got) return got;
            await Task.Delay(50);
        }
        throw new TimeoutException($"nothing reached {queue} in 15 s");
    }
}

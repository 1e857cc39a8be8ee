using System.Collections.Concurrent;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Hosting;
using Microsoft.Extensions.Configuration;
using CanaryFlow.Controller.Tests.Infrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CanaryFlow.Controller.Tests.Bus;

/// <summary>A message the test sends through the controller's bus wiring (not a contract: tests only).</summary>
public sealed record ClusterProbe(int Number);

public sealed class ClusterProbeConsumer(ConcurrentDictionary<int, int> seen) : IConsumer<ClusterProbe>
{
    public async Task Consume(ConsumeContext<ClusterProbe> context)
    {
        await Task.Delay(5, context.CancellationToken); // keep some in flight when the node dies
        seen.AddOrUpdate(context.Message.Number, 1, (_, n) => n + 1);
    }
}

/// <summary>A message whose consumer always fails (tests only).</summary>
public sealed record FailingProbe(int Number);

/// <summary>A message nothing consumes (tests only).</summary>
public sealed record UnwantedProbe(int Number);

public sealed class FailingProbeConsumer : IConsumer<FailingProbe>
{
    public Task Consume(ConsumeContext<FailingProbe> context) => throw new InvalidOperationException("this probe always fails");
}

/// <summary>
/// Issue 15: the bus on a 3-node RabbitMQ cluster. With the nodes listed in Bus:RabbitMq:Hosts and quorum queues, a
/// node killed (SIGKILL) while messages flow loses none of them: the client moves to another node, the queue's replicas
/// on the other two nodes elect a new leader, and what was not acknowledged is delivered again.
/// </summary>
public sealed class RabbitMqClusterTests
{
    [Fact]
    public async Task Killing_one_node_of_three_loses_no_message_on_quorum_queues()
    {
        var cluster = await RabbitMqCluster.SharedAsync();
        var vhost = await cluster.NewVirtualHostAsync("cluster");
        var options = new BusOptions { Transport = BusTransport.RabbitMq, ConcurrentMessageLimit = 8 };
        options.RabbitMq.VirtualHost = vhost;
        options.RabbitMq.QuorumQueues = true;
        // Node 3 first: the bus connects there, so the kill takes its connection away.
        foreach (var port in cluster.Ports.Reverse()) options.RabbitMq.Hosts.Add($"127.0.0.1:{port}");

        var seen = new ConcurrentDictionary<int, int>();
        var services = new ServiceCollection().AddLogging().AddSingleton(seen);
        var state = Directory.CreateTempSubdirectory("canaryflow-cluster-").FullName;
        services.AddRolloutEngineServices(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Rollouts:StateDirectory"] = state }).Build()); // the saga's endpoint needs its store
        services.AddCanaryFlowBus(options, x => x.AddConsumer<ClusterProbeConsumer>());
        await using var provider = services.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBusControl>();
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        try
        {
            const int count = 400;
            for (var i = 0; i < count / 2; i++) await bus.Publish(new ClusterProbe(i));
            await cluster.KillNodeAsync(3);
            // Publishing goes on while the client reconnects: a publish that fails is tried again (confirmed or not sent).
            for (var i = count / 2; i < count; i++)
                for (var attempt = 1; ; attempt++)
                {
                    try { await bus.Publish(new ClusterProbe(i), new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token); break; }
                    catch (Exception) when (attempt < 30) { await Task.Delay(500); }
                }

            var end = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (seen.Count < count && DateTime.UtcNow < end) await Task.Delay(200);
            Assert.Equal(Enumerable.Range(0, count), seen.Keys.Order()); // every one arrived (some perhaps twice: at least once)
        }
        finally
        {
            await bus.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
            await cluster.StartNodeAsync(3);
        }
    }

    [Fact]
    public async Task With_quorum_queues_on_the_error_and_skipped_queues_are_quorum_queues_too()
    {
        var cluster = await RabbitMqCluster.SharedAsync();
        var vhost = await cluster.NewVirtualHostAsync("quorum-error");
        var options = new BusOptions { Transport = BusTransport.RabbitMq };
        options.RabbitMq.VirtualHost = vhost;
        options.RabbitMq.QuorumQueues = true;
        foreach (var port in cluster.Ports) options.RabbitMq.Hosts.Add($"127.0.0.1:{port}");
        var services = new ServiceCollection().AddLogging();
        var state = Directory.CreateTempSubdirectory("canaryflow-quorum-").FullName;
        services.AddRolloutEngineServices(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Rollouts:StateDirectory"] = state }).Build());
        services.AddCanaryFlowBus(options, x => x.AddConsumer<FailingProbeConsumer>());
        await using var provider = services.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBusControl>();
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        try
        {
            await bus.Publish(new FailingProbe(1)); // retried, then faulted into failing-probe_error
            var queue = await bus.GetSendEndpoint(new Uri("exchange:failing-probe"));
            await queue.Send(new UnwantedProbe(1)); // no consumer for it there: failing-probe_skipped

            var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            var types = await cluster.QueueTypesAsync(vhost);
            while (!(types.ContainsKey("failing-probe_error") && types.ContainsKey("failing-probe_skipped")) && DateTime.UtcNow < end)
            {
                await Task.Delay(500);
                types = await cluster.QueueTypesAsync(vhost);
            }
            Assert.Equal("quorum", types.GetValueOrDefault("failing-probe"));
            Assert.Equal("quorum", types.GetValueOrDefault("failing-probe_error"));
            Assert.Equal("quorum", types.GetValueOrDefault("failing-probe_skipped"));
        }
        finally
        {
            await bus.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
        }
    }
}

using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Controller.Observability;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>
/// Issue 15, a kill run: a broker node was lost under one replica, which kept renewing six partitions' Leases while
/// nothing was consumed or published for them, and 163 rollouts stood still to the end. A held partition whose queue
/// gives its holder nothing, not even the holder's own heartbeat, for <c>Sharding:ConsumerSilentAfter</c> is given up.
/// Two sharded replicas on a real RabbitMQ; every publish and send of one of them is made to hang as a publish whose
/// broker confirm never comes (rabbitmq-dotnet-client#1930).
/// </summary>
public sealed class PartitionLivenessTests
{
    private static readonly Dictionary<string, string?> Settings = new() { ["Sharding:ConsumerSilentAfter"] = "00:00:02" };

    [Fact]
    public async Task A_held_partition_whose_queue_gives_its_holder_nothing_is_given_up_and_a_quiet_served_one_is_kept()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("shard-silent");
        var world = new InMemoryWorld();
        var runner = new SlowRecordingRunner(world, TimeSpan.Zero);
        await using var served = await ShardedReplica.StartAsync(broker.Port, vhost, 2, world, runner, new ResultLog(), settings: Settings);
        await using var cut = await ShardedReplica.StartAsync(broker.Port, vhost, 2, world, runner, new ResultLog(), served.Store, Settings);
        await served.Ownership.GainAsync(0);
        await cut.Ownership.GainAsync(1);

        var hanging = new NeverConfirmed();
        using (cut.Bus.ConnectSendObserver(hanging))
        using (cut.Bus.ConnectPublishObserver(hanging))
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (cut.Ownership.Owns(1) && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.False(cut.Ownership.Owns(1), "the replica whose sends hang still holds its partition");
            Assert.True(hanging.Entered.IsCompleted); // its heartbeat was among the sends that hung
        }

        // The other partition's queue has no rollout traffic at all; its heartbeats alone keep it held through three
        // times the silence that gives a partition up.
        await Task.Delay(TimeSpan.FromSeconds(6));
        Assert.True(served.Ownership.Owns(0), "a quiet partition whose queue is served was given up");

        // The replica whose sends hang fails its liveness check (Kubernetes restarts it, with new broker connections).
        var cutHealth = await LivenessAsync(cut);
        Assert.Equal(HealthStatus.Unhealthy, cutHealth.Status);
        Assert.Contains("partitions given up because their queue gave this replica nothing: 1 at", cutHealth.Entries["partitions-served"].Description);
        Assert.Equal(HealthStatus.Healthy, (await LivenessAsync(served)).Status);
    }

    private static Task<HealthReport> LivenessAsync(ShardedReplica replica) =>
        replica.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Tags.Contains(ObservabilityServices.LiveTag));

    /// <summary>Holds every send and publish until it is cancelled, as one waiting for a confirm that never comes.</summary>
    private sealed class NeverConfirmed : ISendObserver, IPublishObserver
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Entered => _entered.Task;

        public Task PreSend<T>(SendContext<T> context) where T : class => Hang(context.CancellationToken);
        public Task PrePublish<T>(PublishContext<T> context) where T : class => Hang(context.CancellationToken);

        private async Task Hang(CancellationToken cancellationToken)
        {
            _entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public Task PostSend<T>(SendContext<T> context) where T : class => Task.CompletedTask;
        public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Task.CompletedTask;
        public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;
        public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }
}

using CanaryFlow.Controller.Hooks;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Workers;
using CanaryFlow.Controller.Web;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CanaryFlow.Controller.Bus;

/// <summary>Bus wiring: the saga, its workers and the transport.</summary>
public static class RolloutBus
{
    /// <summary>The rollout saga, the workers and the status projection; shared by the host and the test harness.</summary>
    public static void AddRolloutEngine(this IBusRegistrationConfigurator x)
    {
        // The store is the repository: a rollout at rest is its stored snapshot only (see RolloutSagaRepository).
        x.AddSagaStateMachine<RolloutStateMachine, RolloutState, RolloutSagaDefinition>().Repository(r => r.UseRolloutStore());
        x.AddConsumer<PrepareCanaryConsumer>();
        x.AddConsumer<SetCanaryWeightConsumer>();
        x.AddConsumer<PromoteCanaryConsumer>();
        x.AddConsumer<RollBackCanaryConsumer>();
        x.AddConsumer<AnalysisDueConsumer>();
        x.AddConsumer<RolloutHistoryConsumer>();
        x.AddConsumer<RolloutStatusQueryConsumer>();
        x.AddCanaryFlowHookConsumers();
        // What the ticker's asks became, on every receive endpoint (partition queues included): see AsksTaken.
        x.TryAddSingleton(sp => new AsksTaken(sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Options.IOptions<Hosting.Sharding.ShardingOptions>>()?.Value.Partitions ?? 0));
        x.AddConsumeObserver<AsksTakenObserver>();
    }

    /// <summary>
    /// The bus's JSON. Strict contracts: a message missing a field its contract requires (or carrying null where the
    /// contract says non-null) fails to deserialize and goes to the endpoint's _error queue with the reason, instead of
    /// reaching the saga half-filled; messages of unknown types go to _skipped (MassTransit's default). Compact: MassTransit
    /// writes its envelope indented unless told otherwise, and every message is written once and read at least once, so
    /// the whitespace cost CPU on both sides and bytes on the broker (docs/benchmarks.md, "compact messages"). A reader
    /// skips whitespace either way: messages an earlier version queued, and those of a replica not yet upgraded, read the same.
    /// </summary>
    public static System.Text.Json.JsonSerializerOptions BusJson(System.Text.Json.JsonSerializerOptions options)
    {
        options.RespectRequiredConstructorParameters = true;
        options.RespectNullableAnnotations = true;
        options.WriteIndented = false;
        return options;
    }

    /// <param name="partitions">Sharded replicas (issue 15): the number of rollout partitions; 0 = one queue per consumer
    /// as usual. Sharded, no queue is declared here: each replica connects the queues of the partitions it holds
    /// (see <see cref="Hosting.Sharding.ShardedEngineSupervisor"/>).</param>
    public static IServiceCollection AddCanaryFlowBus(this IServiceCollection services, BusOptions options,
        Action<IBusRegistrationConfigurator>? addMore = null, int partitions = 0)
    {
        services.AddMassTransit(x =>
        {
            // MassTransit reports usage to its vendor's host 5 minutes after start unless told not to: a controller
            // makes no connection its user did not configure (MASSTRANSIT_USAGE_TELEMETRY=true still turns it on).
            x.DisableUsageTelemetry();
            x.SetKebabCaseEndpointNameFormatter();
            x.AddRolloutEngine();
            addMore?.Invoke(x);
            x.AddConfigureEndpointsCallback((_, _, endpoint) =>
            {
                // Bounded, jittered in-process retries; what still fails goes to the _error queue and the
                // ticker re-sends the rollout's pending command later (no delayed-exchange plugin needed).
                // A write or send the fence refused is not tried again: this replica no longer acts for that rollout (a check
                // retried here would run again for nothing); the partition's guard hands the message to the next holder.
                endpoint.UseMessageRetry(r =>
                {
                    r.Exponential(5, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(150));
                    r.Ignore<Kubernetes.Leadership.NotLeaderException>();
                });
                endpoint.ConcurrentMessageLimit = options.ConcurrentMessageLimit;
                // The endpoint's _error and _skipped queues are declared with its queue's arguments: quorum too (tested).
                if (options.RabbitMq.QuorumQueues && endpoint is IRabbitMqReceiveEndpointConfigurator rabbit) rabbit.SetQuorumQueue();
            });

            if (options.Transport == BusTransport.RabbitMq)
            {
                var r = options.RabbitMq;
                x.UsingRabbitMq((context, cfg) =>
                {
                    var nodes = r.Nodes();
                    cfg.Host(nodes[0].Host, (ushort)nodes[0].Port, r.VirtualHost, h =>
                    {
                        h.Username(r.Username);
                        h.Password(r.Password);
                        if (r.UseTls) h.UseSsl(s => s.ServerName = r.TlsServerName ?? nodes[0].Host);
                        // A cluster: connect to any node, and to another when that one goes away.
                        if (nodes.Count > 1) h.UseCluster(c => { foreach (var (host, port) in nodes) c.Node($"{host}:{port}"); });
                    });
                    cfg.PrefetchCount = options.ConcurrentMessageLimit;
                    cfg.ConfigureJsonSerializerOptions(BusJson);
                    if (partitions > 0)
                    {
                        PartitionTopology.RouteByPartition(cfg, partitions);
                        // The fence covers the bus too: nothing leaves a partition's consumer once the partition is lost.
                        var fence = new Hosting.Sharding.PartitionPublishFence(context.GetRequiredService<Hosting.Sharding.IPartitionOwnership>());
                        cfg.ConfigureSend(s => s.UseFilter(fence));
                        cfg.ConfigurePublish(p => p.UseFilter(fence));
                    }
                    else cfg.ConfigureEndpoints(context);
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) =>
                {
                    cfg.ConfigureJsonSerializerOptions(BusJson);
                    cfg.ConfigureEndpoints(context);
                });
            }
        });

        // Without this the first publishes on a fresh broker can reach exchanges with no bindings yet.
        services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            o.StopTimeout = TimeSpan.FromSeconds(10);
        });
        return services;
    }
}

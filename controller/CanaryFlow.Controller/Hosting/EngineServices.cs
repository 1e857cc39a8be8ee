using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Hooks;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Web;
using CanaryFlow.Controller.Kubernetes.Leadership;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CanaryFlow.Controller.Hosting;

public static class EngineServices
{
    private static void RemoveAll<T>(this IServiceCollection services, Func<ServiceDescriptor, bool> match)
    {
        foreach (var d in services.Where(d => d.ServiceType == typeof(T) && match(d)).ToList()) services.Remove(d);
    }

    /// <summary>The rollout engine without its transport: options, clock, durable store, rehydration, ticker.</summary>
    public static IServiceCollection AddRolloutEngineServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RolloutEngineOptions>().Bind(configuration.GetSection(RolloutEngineOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRolloutStore, FileRolloutStore>();
        services.TryAddSingleton<RolloutHistory>();
        services.TryAddSingleton<RolloutRehydrator>();
        services.TryAddSingleton<RolloutTicker>();
        services.AddCanaryFlowHooks(configuration);
        return services;
    }

    /// <summary>Everything the controller host needs for the engine, on the configured transport.</summary>
    public static IServiceCollection AddCanaryFlowEngine(this IServiceCollection services, IConfiguration configuration,
        Action<IBusRegistrationConfigurator>? addMore = null)
    {
        services.AddOptions<BusOptions>().Bind(configuration.GetSection(BusOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var bus = configuration.GetSection(BusOptions.Section).Get<BusOptions>() ?? new BusOptions();
        var sharding = Sharding.ShardingOptions.From(configuration);
        services.AddOptions<Sharding.ShardingOptions>().Bind(configuration.GetSection(Sharding.ShardingOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => !o.Enabled || bus.Transport == BusTransport.RabbitMq, "Sharding:Partitions needs Bus:Transport RabbitMq (partition queues).")
            .Validate(o => !o.Enabled || services.Any(d => d.ServiceType == typeof(Sharding.IPartitionOwnership)),
                "Sharding:Partitions needs the Kubernetes API (a Lease per partition).")
            .ValidateOnStart();
        services.AddRolloutEngineServices(configuration);
        services.AddCanaryFlowBus(bus, addMore, sharding.Partitions);
        services.TryAddSingleton<ILeadership, AlwaysLeader>();
        services.RemoveAll<IHostedService>(d => d.ImplementationType?.Name == "MassTransitHostedService");
        if (sharding.Enabled)
        {
            // Active-active: the bus runs on every replica; each consumes the queues of the partitions it holds.
            services.TryAddSingleton<Sharding.EngineReady>();
            services.AddSingleton<Sharding.ConsumingPartitions>();
            services.AddSingleton<Sharding.SilentPartitions>();
            services.AddHealthChecks().AddCheck<Sharding.SilentPartitions>("partitions-served", tags: [Observability.ObservabilityServices.LiveTag]);
            services.AddSingleton<Sharding.IActingRollouts>(sp => sp.GetRequiredService<Sharding.ConsumingPartitions>());
            services.AddHostedService<Sharding.ShardedEngineSupervisor>();
            return services;
        }
        // The supervisor starts the bus once this replica leads, after loading the stored rollouts;
        // MassTransit's own hosted service would start it on every replica, at once (removed above).
        services.AddHostedService<EngineSupervisor>();
        return services;
    }
}

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
        services.AddRolloutEngineServices(configuration);
        services.AddCanaryFlowBus(bus, addMore);
        services.TryAddSingleton<ILeadership, AlwaysLeader>();
        // The supervisor starts the bus once this replica leads, after loading the stored rollouts;
        // MassTransit's own hosted service would start it on every replica, at once.
        services.RemoveAll<IHostedService>(d => d.ImplementationType?.Name == "MassTransitHostedService");
        services.AddHostedService<EngineSupervisor>();
        return services;
    }
}

using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Web;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CanaryFlow.Controller.Hosting;

public static class EngineServices
{
    /// <summary>
    /// The rollout engine without its transport: options, clock, durable store, rehydration, ticker.
    /// The rehydrator is registered here, before the bus, so stored rollouts are in the saga
    /// repository before the first message is consumed.
    /// </summary>
    public static IServiceCollection AddRolloutEngineServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RolloutEngineOptions>().Bind(configuration.GetSection(RolloutEngineOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRolloutStore, FileRolloutStore>();
        services.TryAddSingleton<RolloutHistory>();
        services.AddHostedService<RolloutRehydrator>();
        services.TryAddSingleton<RolloutTicker>();
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
        // After the bus, so the first tick publishes on a started bus.
        services.AddHostedService(sp => sp.GetRequiredService<RolloutTicker>());
        return services;
    }
}

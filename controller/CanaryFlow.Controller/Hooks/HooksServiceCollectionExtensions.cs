using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CanaryFlow.Controller.Hooks;

public static class HooksServiceCollectionExtensions
{
    /// <summary>The hook callers (part of the engine: the analysis worker and the ticker's gates use them).</summary>
    public static IServiceCollection AddCanaryFlowHooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HookOptions>().Bind(configuration.GetSection(HookOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        // The hook URL and the signing secret are not logged: no HttpClient request logging for these clients.
        services.AddHttpClient(HookHttpCaller.HttpClientName).RemoveAllLoggers();
        services.TryAddSingleton<HookHttpCaller>();
        services.TryAddSingleton<LoadGenerator>();
        services.TryAddSingleton<HookRunner>();
        return services;
    }

    public static void AddCanaryFlowHookConsumers(this IBusRegistrationConfigurator x)
    {
        x.AddConsumer<HooksDueConsumer>();
        x.AddConsumer<HookTransitionConsumer>();
    }
}

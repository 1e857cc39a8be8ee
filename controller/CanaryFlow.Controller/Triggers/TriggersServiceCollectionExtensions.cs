using CanaryFlow.Controller.Triggers.Registries;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers;

public static class TriggersServiceCollectionExtensions
{
    /// <summary>
    /// Registry webhook receivers, bound to section "Triggers". Needs <see cref="ITrackedTargets"/> and
    /// <see cref="IImageUpdater"/> (registered by the Kubernetes adapters) and then <c>app.MapRegistryWebhooks()</c>.
    /// </summary>
    public static IServiceCollection AddCanaryFlowTriggers(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RegistryWebhookOptions>().Bind(configuration.GetSection(RegistryWebhookOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RegistryWebhookOptions>, RegistryWebhookOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DeliveryReplayGuard>();
        services.TryAddSingleton<ImagePushHandler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRegistryReceiver, DockerHubReceiver>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRegistryReceiver, HarborReceiver>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRegistryReceiver, GitHubPackagesReceiver>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRegistryReceiver, AcrReceiver>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRegistryReceiver, CloudEventsReceiver>());
        return services;
    }
}

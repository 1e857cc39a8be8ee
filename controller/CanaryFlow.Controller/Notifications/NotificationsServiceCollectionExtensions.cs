using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Notifications.Delivery;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications;

public static class NotificationsServiceCollectionExtensions
{
    /// <summary>Channels, ledger and delivery workers, bound to section "Notifications" and validated at start.</summary>
    public static IServiceCollection AddCanaryFlowNotifications(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<NotificationOptions>().Bind(configuration.GetSection(NotificationOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NotificationOptions>, NotificationOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        // No handler logging of request URLs: webhook URLs are credentials.
        services.AddHttpClient(ChannelHttpSender.HttpClientName).RemoveAllLoggers();
        services.TryAddSingleton<ChannelHttpSender>();
        services.TryAddSingleton<NotificationLedger>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<INotifier, SlackNotifier>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<INotifier, TeamsNotifier>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<INotifier, DiscordNotifier>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<INotifier, GoogleChatNotifier>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<INotifier, SignedWebhookNotifier>());
        services.TryAddSingleton<NotificationDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<NotificationDispatcher>());
        return services;
    }

    /// <summary>Registers the RolloutTransitioned consumer that feeds the notification channels.</summary>
    public static IBusRegistrationConfigurator AddCanaryFlowNotificationConsumers(this IBusRegistrationConfigurator x)
    {
        x.AddConsumer<RolloutTransitionedNotificationConsumer>();
        return x;
    }
}

using CanaryFlow.Analysis;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Observability;
using CanaryFlow.Controller.Triggers;
using CanaryFlow.Controller.Web;

namespace CanaryFlow.Controller.Hosting;

/// <summary>The whole controller: every concern registers itself; this is the one list of them.</summary>
public static class ControllerComposition
{
    public static WebApplicationBuilder AddCanaryFlowController(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.AddCanaryFlowObservability();
        // Before the engine: the Kubernetes store, router and workloads replace the embedded defaults.
        builder.Services.AddCanaryFlowKubernetes(configuration);
        builder.Services.AddCanaryFlowAnalysis(configuration);
        builder.Services.AddCanaryFlowTriggers(configuration);
        builder.Services.AddCanaryFlowNotifications(configuration);
        builder.Services.AddCanaryFlowSlack(configuration);
        builder.Services.AddCanaryFlowAlertmanager(configuration);
        builder.Services.AddCanaryFlowEngine(configuration, x =>
        {
            x.AddCanaryFlowKubernetesConsumers();
            x.AddCanaryFlowNotificationConsumers();
            x.AddCanaryFlowObservabilityConsumers();
        });
        return builder;
    }

    public static WebApplication MapCanaryFlowController(this WebApplication app)
    {
        app.MapCanaryFlowObservability();
        app.MapStatusPage();
        app.MapRolloutsApi();
        app.MapRegistryWebhooks();
        app.MapSlackEndpoints();
        app.MapAlertmanagerReceiver();
        return app;
    }
}

using CanaryFlow.Analysis;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Observability;
using CanaryFlow.Controller.Triggers;
using CanaryFlow.Controller.Web;

namespace CanaryFlow.Controller.Hosting;

/// <summary>The whole controller: every concern registers itself; this is the one list of them.
/// Receivers that need a secret (Slack, Alertmanager) are on only when their secret is configured:
/// a controller without them starts, and one with them refuses unsigned requests.</summary>
public static class ControllerComposition
{
    private static bool SlackOn(IConfiguration c) => !string.IsNullOrEmpty(c["Slack:SigningSecret"]);

    private static bool AlertmanagerOn(IConfiguration c) => !string.IsNullOrEmpty(c["Alertmanager:BearerToken"]);

    public static WebApplicationBuilder AddCanaryFlowController(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.AddCanaryFlowObservability();
        // Before the engine: the Kubernetes store, router and workloads replace the embedded defaults.
        builder.Services.AddCanaryFlowKubernetes(configuration);
        builder.Services.AddCanaryFlowAnalysis(configuration);
        builder.Services.AddMetricTemplateSources(); // after the analysis: it wraps its runner
        builder.Services.AddCanaryFlowTriggers(configuration);
        builder.Services.AddCanaryFlowNotifications(configuration);
        if (SlackOn(configuration)) builder.Services.AddCanaryFlowSlack(configuration);
        if (AlertmanagerOn(configuration)) builder.Services.AddCanaryFlowAlertmanager(configuration);
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
        if (SlackOn(app.Configuration)) app.MapSlackEndpoints();
        if (AlertmanagerOn(app.Configuration)) app.MapAlertmanagerReceiver();
        return app;
    }
}

using CanaryFlow.Controller.Web;
using MassTransit;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Prometheus;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// Wiring of metrics, health, logs, traces, reports and the status page. The host calls
/// <c>builder.AddCanaryFlowObservability()</c>, <c>x.AddCanaryFlowObservabilityConsumers()</c> in its bus
/// registration, then <c>app.MapCanaryFlowObservability()</c> and <c>app.MapStatusPage()</c>.
/// </summary>
public static class ObservabilityServices
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready"; // MassTransit tags its bus health check "ready"

    public static IHostApplicationBuilder AddCanaryFlowObservability(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ObservabilityOptions>().Bind(builder.Configuration.GetSection(ObservabilityOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(_ => new CanaryFlowMetrics(Metrics.DefaultRegistry));
        services.TryAddSingleton<RolloutMetricsRecorder>();
        services.TryAddSingleton<RolloutHistory>();
        services.TryAddSingleton<StatusPageBroadcaster>();
        services.TryAddSingleton<RolloutReportWriter>();
        services.AddConsumeObserver<ConsumerErrorObserver>();
        services.AddHealthChecks();

        ConfigureLogging(builder);
        ConfigureTracing(builder);
        return builder;
    }

    /// <summary>The observers of the bus: metrics, the status page's live stream, the report writer,
    /// and a logging scope with the rollout's ids around every consumed message.</summary>
    public static IBusRegistrationConfigurator AddCanaryFlowObservabilityConsumers(this IBusRegistrationConfigurator x)
    {
        // Every replica serves its own /metrics and status page, so each needs every transition:
        // these two consume from a temporary queue of their own rather than sharing one.
        var instance = $"{Environment.MachineName}-{Environment.ProcessId}".ToLowerInvariant();
        x.AddConsumer<RolloutMetricsConsumer>().Endpoint(e => { e.InstanceId = instance; e.Temporary = true; });
        x.AddConsumer<StatusPageBroadcastConsumer>().Endpoint(e => { e.InstanceId = instance; e.Temporary = true; });
        // One report per rollout, whichever replica writes it: a shared queue.
        x.AddConsumer<RolloutReportConsumer>();
        x.AddConfigureEndpointsCallback((context, _, endpoint) => endpoint.UseConsumeFilter(typeof(RolloutLogScopeFilter<>), context));
        return x;
    }

    /// <summary><c>/metrics</c> (Prometheus), <c>/healthz</c> (the process answers) and <c>/readyz</c> (the bus is started).</summary>
    public static IEndpointRouteBuilder MapCanaryFlowObservability(this IEndpointRouteBuilder app)
    {
        var metrics = app.ServiceProvider.GetRequiredService<CanaryFlowMetrics>();
        app.ServiceProvider.GetRequiredService<RolloutMetricsRecorder>(); // its per-target families, from the first scrape
        app.MapGet("/metrics", (HttpContext http) => ServeMetricsAsync(metrics, http));
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(LiveTag) });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) });
        return app;
    }

    /// <summary>As prometheus-net's own endpoint: OpenMetrics when the scraper asks for it (Prometheus does), else the
    /// text format; with the families written at scrape time (<see cref="CanaryFlowMetrics.ExportAsync"/>).</summary>
    private static Task ServeMetricsAsync(CanaryFlowMetrics metrics, HttpContext http)
    {
        var openMetrics = http.Request.Headers.Accept.Any(a => a?.Contains("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) == true);
        http.Response.ContentType = openMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8";
        return metrics.ExportAsync(http.Response.Body, openMetrics ? ExpositionFormat.OpenMetricsText : ExpositionFormat.PrometheusText, http.RequestAborted);
    }

    private static void ConfigureLogging(IHostApplicationBuilder builder)
    {
        var format = builder.Configuration["Logging:Format"];
        if (string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true; // the rollout ids live in scopes
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        else if (format is null or "" || string.Equals(format, "simple", StringComparison.OrdinalIgnoreCase))
            builder.Logging.AddSimpleConsole(o => o.IncludeScopes = true);
        else
            throw new InvalidOperationException($"Logging:Format must be \"json\" or \"simple\", not \"{format}\".");
    }

    // Traces of bus messages cost one ActivitySource listener: only when an OTLP endpoint is configured.
    private static void ConfigureTracing(IHostApplicationBuilder builder)
    {
        var endpoint = builder.Configuration[$"{ObservabilityOptions.Section}:{nameof(ObservabilityOptions.OtlpEndpoint)}"];
        if (string.IsNullOrWhiteSpace(endpoint) || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri)) return; // validation reports a bad one
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("canaryflow-controller"))
            .WithTracing(t => t
                .AddSource("MassTransit") // MassTransit's DiagnosticHeaders.DefaultListenerName
                .AddOtlpExporter(o => o.Endpoint = uri));
    }
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Notifications.Delivery;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Tests.Notifications;

/// <summary>A host wired as the controller wires notifications: the options section, the consumer on an in-memory bus, the workers.</summary>
public sealed class NotificationHost : IAsyncDisposable
{
    private readonly IHost _host;

    private NotificationHost(IHost host) => _host = host;

    public ITestHarness Harness => _host.Services.GetRequiredService<ITestHarness>();
    public NotificationLedger Ledger => _host.Services.GetRequiredService<NotificationLedger>();

    public IServiceProvider Services => _host.Services;

    /// <param name="configure">Runs before the notification services are added (e.g. a fake TimeProvider, which then wins).</param>
    public static async Task<NotificationHost> StartAsync(string dataPath, IDictionary<string, (string Kind, string Url)> channels, IDictionary<string, string?>? extra = null,
        ILoggerProvider? logs = null, Action<IServiceCollection>? configure = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Notifications:DataPath"] = dataPath,
            ["Notifications:StatusPageUrl"] = "https://canaryflow.example.com",
            ["Notifications:RetryBaseDelay"] = "00:00:00.010",
            ["Notifications:MaxAttempts"] = "4",
        };
        var i = 0;
        foreach (var (name, (kind, url)) in channels)
        {
            settings[$"Notifications:Channels:{name}:Kind"] = kind;
            settings[$"Notifications:Channels:{name}:Url"] = url;
            settings[$"Notifications:Channels:{name}:Secret"] = WebhookSecret;
            settings[$"Notifications:Channels:{name}:RatePerMinute"] = "600";
            settings[$"Notifications:Defaults:{i++}"] = name;
        }
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>()) settings[key] = value;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Trace);
        builder.Configuration.AddInMemoryCollection(settings);
        // The harness's "consumed?" answers no after its inactivity timeout (1.2 s by default): a loaded test machine
        // can take longer than that to consume one message.
        builder.Services.Configure<TestHarnessOptions>(o => o.TestInactivityTimeout = TimeSpan.FromSeconds(15));
        configure?.Invoke(builder.Services); // after: a test may set its own
        builder.Services.AddCanaryFlowNotifications(builder.Configuration);
        builder.Services.AddMassTransitTestHarness(x => x.AddCanaryFlowNotificationConsumers());
        var host = builder.Build();
        await host.StartAsync();
        return new NotificationHost(host);
    }

    public const string WebhookSecret = "webhook-signing-secret-0123";

    public async Task PublishAndConsumeAsync(RolloutTransitioned transition)
    {
        await Harness.Bus.Publish(transition);
        Assert.True(await Harness.Consumed.Any<RolloutTransitioned>(c =>
            c.Context.Message.CorrelationId == transition.CorrelationId && c.Context.Message.Version == transition.Version));
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    public static RolloutTransitioned Transition(long version, string phase = RolloutPhases.Paused, int weight = 20) => new(
        RolloutIds.ForTarget(new RolloutTarget("shop", "checkout")),
        Guid.Parse("9a1d0c1e-5d3b-4f0a-8f6e-2b7c4d9e1a00"),
        new RolloutTarget("shop", "checkout"),
        "sha256:1e3f1a2b6e9c3f2d4a0b",
        "sha256:0000aaaabbbbccccdddd",
        RolloutPhases.Progressing,
        phase,
        weight,
        weight,
        1,
        5,
        1,
        0,
        "Paused by slack:U123: checking dashboards",
        new AnalysisEvidence("1 of 2 metrics failed", [
            new MetricResult("request-success-rate", 97.5, 99, null, "fail"),
            new MetricResult("request-duration", 120, null, 500, "pass"),
        ]),
        version,
        DateTimeOffset.Parse("2026-11-25T15:00:00Z"));
}

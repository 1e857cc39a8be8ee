using CanaryFlow.Controller.Hosting;
using MassTransit;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace CanaryFlow.Demo.Stories;

/// <summary>
/// The CanaryFlow controller in the demo's process, composed exactly as the deployable host composes it
/// (<c>AddCanaryFlowController</c>), on 127.0.0.1 with a random port. Each mode adds where the Kubernetes API
/// and Prometheus are; the bus, the state, the reports and the notifications live under the run's folder.
/// </summary>
public sealed class DemoController : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DemoController(WebApplication app, string reportsDirectory)
    {
        _app = app;
        ReportsDirectory = reportsDirectory;
        StatusPage = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Api = new HttpClient { BaseAddress = new Uri(StatusPage), Timeout = TimeSpan.FromSeconds(10) };
    }

    public string StatusPage { get; }
    public HttpClient Api { get; }
    public string ReportsDirectory { get; }
    public IBus Bus => _app.Services.GetRequiredService<IBus>();
    public IServiceProvider Services => _app.Services;

    /// <param name="settings">The mode's settings (Kubernetes, Prometheus); they win over the common ones.</param>
    /// <param name="configureServices">For tests: e.g. the one logger factory a test process shares.</param>
    public static async Task<DemoController> StartAsync(DemoBus bus, string workDirectory, IReadOnlyDictionary<string, string?> settings,
        Action<IServiceCollection>? configureServices = null, CancellationToken cancellationToken = default)
    {
        var reports = Path.Combine(workDirectory, "reports");
        var all = new Dictionary<string, string?>
        {
            ["Bus:Transport"] = bus.RabbitMq ? "RabbitMq" : "InMemory",
            ["Bus:RabbitMq:Port"] = bus.RabbitMqPort.ToString(),
            ["Rollouts:StateDirectory"] = Path.Combine(workDirectory, "state"),
            ["Rollouts:TickPeriod"] = "00:00:00.200",
            ["Observability:ReportsDirectory"] = reports,
            ["Notifications:DataPath"] = Path.Combine(workDirectory, "notifications"),
        };
        foreach (var (key, value) in settings) all[key] = value;

        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(all);
        builder.AddCanaryFlowController();
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapCanaryFlowController();
        try { await app.StartAsync(cancellationToken); }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return new DemoController(app, reports);
    }

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        try { await _app.StopAsync(); }
        finally { await _app.DisposeAsync(); }
    }
}

/// <summary>Which bus the demo's controller uses: in memory (the default) or a RabbitMQ on 127.0.0.1.</summary>
public sealed record DemoBus(bool RabbitMq, int RabbitMqPort)
{
    public string Name => RabbitMq ? "rabbitmq" : "inmemory";
}

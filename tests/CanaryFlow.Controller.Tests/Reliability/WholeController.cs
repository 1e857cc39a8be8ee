using CanaryFlow.Analysis;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Tests.ChatOps;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Tests.Reliability;

/// <summary>
/// The controller exactly as Program.cs composes it (every endpoint, every hosted service) on the in-memory
/// bus, against a sandbox Kubernetes API on 127.0.0.1, with a counter of every message published on its bus.
/// Analysis answers from <see cref="InMemoryWorld"/> (passing), since these tests are about input, not metrics.
/// </summary>
public sealed class WholeController : IAsyncDisposable
{
    public const string Ns = "rel";
    public const string AlertmanagerToken = "alertmanager-token-0123456789";
    public const string SlackSecret = "slack-signing-secret-0123456789ab";
    public const string SlackUser = "U0RELIABLE";
    public const string RegistrySecret = "registry-secret-0123456789abcdef";

    /// <summary>Errors logged by any controller these tests started (unhandled exceptions show up here).</summary>
    public static readonly CapturingLoggerProvider Errors = new();

    // MassTransit keeps a process-wide log context from the first bus it builds: share one factory.
    private static readonly ILoggerFactory SharedLogging = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Error).AddProvider(Errors));

    private readonly WebApplication _app;

    private WholeController(WebApplication app, SandboxKubernetesServer sandbox, PublishCounter published)
    {
        _app = app;
        Sandbox = sandbox;
        Published = published;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(20) };
    }

    public SandboxKubernetesServer Sandbox { get; }
    public HttpClient Http { get; }
    public PublishCounter Published { get; }
    public IServiceProvider Services => _app.Services;

    public static async Task<WholeController> StartAsync()
    {
        var sandbox = await SandboxKubernetesServer.StartAsync(new SandboxKubernetesOptions(ReadyDelay: TimeSpan.FromMilliseconds(100),
            BookmarkInterval: TimeSpan.FromMilliseconds(500)));
        var folder = Directory.CreateTempSubdirectory("canaryflow-whole-").FullName;
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kubernetes:KubeconfigPath"] = sandbox.KubeconfigPath,
            ["Kubernetes:Namespaces:0"] = Ns,
            ["Kubernetes:LeaderElection"] = "false",
            ["Kubernetes:PollInterval"] = "00:00:00.100",
            ["Prometheus:Address"] = "http://127.0.0.1:9/", // unused: analysis answers from the in-memory world
            ["Bus:Transport"] = "InMemory",
            ["Rollouts:StateDirectory"] = Path.Combine(folder, "state"),
            ["Rollouts:TickPeriod"] = "00:00:00.100",
            ["Observability:ReportsDirectory"] = Path.Combine(folder, "reports"),
            ["Notifications:DataPath"] = Path.Combine(folder, "notifications"),
            ["Alertmanager:BearerToken"] = AlertmanagerToken,
            ["Slack:SigningSecret"] = SlackSecret,
            ["Slack:AllowedUsers:0"] = SlackUser,
            ["Triggers:DockerHub:Secret"] = RegistrySecret,
            ["Triggers:Harbor:Secret"] = RegistrySecret,
            ["Triggers:GitHub:Secret"] = RegistrySecret,
            ["Triggers:Acr:Secret"] = RegistrySecret,
            ["Triggers:CloudEvents:Secret"] = RegistrySecret,
        });
        builder.Services.AddSingleton(SharedLogging);
        builder.AddCanaryFlowController();
        builder.Services.AddSingleton<IAnalysisRunner>(new InMemoryWorld());
        var app = builder.Build();
        app.MapCanaryFlowController();
        await app.StartAsync();
        var counter = new PublishCounter();
        app.Services.GetRequiredService<IBus>().ConnectPublishObserver(counter);
        return new WholeController(app, sandbox, counter);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Sandbox.DisposeAsync();
    }
}

/// <summary>Counts every message published on the bus, whatever its type.</summary>
public sealed class PublishCounter : IPublishObserver
{
    private long _count;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _types = new();

    public long Count => Interlocked.Read(ref _count);
    public IReadOnlyCollection<string> Types => _types;

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        Interlocked.Increment(ref _count);
        _types.Enqueue(typeof(T).Name);
        return Task.CompletedTask;
    }

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Kubernetes.Watch;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using CanaryFlow.Sandbox.Kubernetes;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// A sandbox API server plus the controller's Kubernetes services wired exactly as in production
/// (<c>AddCanaryFlowKubernetes</c> from configuration, the real KubernetesClient through a kubeconfig),
/// with short durations so that the tests run quickly.
/// </summary>
public sealed partial class KubeTestHost : IAsyncDisposable
{
    public const string Ns = "default";

    private readonly bool _ownsSandbox;
    private readonly SandboxKubernetesServer? _sandbox;
    private readonly RealControlPlane? _real;

    private readonly bool _ownsNamespace;

    private KubeTestHost(SandboxKubernetesServer? sandbox, RealControlPlane? real, string ns, FakeKubelet? kubelet, ServiceProvider services, bool ownsSandbox,
        bool ownsNamespace = true)
    {
        _ownsSandbox = ownsSandbox;
        _ownsNamespace = ownsNamespace;
        _sandbox = sandbox;
        _real = real;
        Namespace = ns;
        Kubelet = kubelet;
        Services = services;
        Client = services.GetRequiredService<IKubernetes>();
    }

    /// <summary>Which API server this host talks to.</summary>
    public KubeServer Server => _real is null ? KubeServer.Sandbox : KubeServer.Real;

    /// <summary>The sandbox (only when <see cref="Server"/> is the sandbox: its fault injection and store have no real counterpart).</summary>
    public SandboxKubernetesServer Sandbox => _sandbox ?? throw new InvalidOperationException("this test runs on the real API server, which has no sandbox hooks");

    /// <summary>The real control plane (only when <see cref="Server"/> is real).</summary>
    public RealControlPlane Real => _real ?? throw new InvalidOperationException("this test runs on the sandbox");

    /// <summary>The namespace the controller governs: "default" on a sandbox of its own, a fresh one on the shared real server.</summary>
    public string Namespace { get; }

    /// <summary>On the real server: what makes pods Ready (there is no kubelet).</summary>
    public FakeKubelet? Kubelet { get; }

    public ServiceProvider Services { get; }
    public IKubernetes Client { get; }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public static async Task<KubeTestHost> StartAsync(Dictionary<string, string?>? settings = null, SandboxKubernetesServer? sharedSandbox = null)
    {
        var sandbox = sharedSandbox ?? await SandboxKubernetesServer.StartAsync(new SandboxKubernetesOptions(ReadyDelay: TimeSpan.FromMilliseconds(100),
            BookmarkInterval: TimeSpan.FromMilliseconds(300)));
        return Build(sandbox.KubeconfigPath, Ns, settings, services => new KubeTestHost(sandbox, null, Ns, null, services, sharedSandbox is null));
    }

    /// <summary>Controller services on the given server: a sandbox of their own, or a fresh namespace of the shared real
    /// control plane with a <see cref="FakeKubelet"/> in it.</summary>
    public static async Task<KubeTestHost> StartOnAsync(KubeServer server, Dictionary<string, string?>? settings = null)
    {
        if (server == KubeServer.Sandbox) return await StartAsync(settings);
        var real = await RealControlPlane.GetAsync();
        var ns = await real.NewNamespaceAsync();
        var kubelet = await FakeKubelet.StartAsync(real.Admin, ns);
        var all = new Dictionary<string, string?>(settings ?? []) { ["Kubernetes:Namespaces:0"] = ns, ["Kubernetes:LeaseNamespace"] = ns };
        return Build(real.KubeconfigPath, ns, all, services => new KubeTestHost(null, real, ns, kubelet, services, false));
    }

    private static KubeTestHost Build(string kubeconfig, string ns, Dictionary<string, string?>? settings, Func<ServiceProvider, KubeTestHost> create)
    {
        var config = new Dictionary<string, string?>
        {
            ["Kubernetes:KubeconfigPath"] = kubeconfig,
            ["Kubernetes:LeaderElection"] = "false",
            ["Kubernetes:PollInterval"] = "00:00:00.05",
            ["Kubernetes:RetryBaseDelay"] = "00:00:00.02",
            ["Kubernetes:MaxRetryAfter"] = "00:00:01",
            ["Kubernetes:MaxWatchBackoff"] = "00:00:00.5",
            ["Kubernetes:RequestTimeout"] = "00:00:05",
            ["Kubernetes:LeaseDuration"] = "00:00:02",
            ["Kubernetes:RenewDeadline"] = "00:00:01.5",
            ["Kubernetes:RetryPeriod"] = "00:00:00.25",
        };
        foreach (var (k, v) in settings ?? []) config[k] = v;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(config).Build();
        var services = new ServiceCollection();
        // CANARYFLOW_TEST_LOG_DIR: keep each host's log (Information and up) in a file named for its namespace, to explain
        // a failure seen only in a whole run.
        var logDir = Environment.GetEnvironmentVariable("CANARYFLOW_TEST_LOG_DIR");
        var capture = string.IsNullOrEmpty(logDir) ? null : new CanaryFlow.Controller.Tests.ChatOps.CapturingLoggerProvider();
        services.AddLogging(b =>
        {
            b.SetMinimumLevel(capture is null ? LogLevel.Warning : LogLevel.Information);
            if (capture is not null) b.AddProvider(capture);
        });
        if (capture is not null) services.AddSingleton(capture);
        services.AddSingleton<IConfiguration>(configuration);
        services.AddCanaryFlowKubernetes(configuration);
        services.AddMassTransitTestHarness(x => x.AddCanaryFlowKubernetesConsumers());
        return create(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true }));
    }

    public async Task<V1Deployment> CreateDeploymentAsync(string name, string image, int replicas = 2, string? ns = null)
    {
        var labels = new Dictionary<string, string> { ["app"] = name };
        return await Client.AppsV1.CreateNamespacedDeploymentAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Spec = new V1DeploymentSpec
            {
                Replicas = replicas,
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = image, Ports = [new V1ContainerPort { ContainerPort = 8080 }] }] },
                },
            },
        }, ns ?? Namespace);
    }

    /// <summary>Creates a Canary for the target; <paramref name="spec"/> adds to (or overrides) a minimal valid spec.</summary>
    public async Task CreateCanaryAsync(string name, string target, JsonObject? spec = null, string? ns = null)
    {
        var body = new JsonObject
        {
            ["targetRef"] = new JsonObject { ["name"] = target },
            ["service"] = new JsonObject { ["port"] = 8080 },
            ["analysis"] = new JsonObject { ["progressDeadlineSeconds"] = 5, ["interval"] = "1s" },
        };
        foreach (var (k, v) in spec ?? []) body[k] = v?.DeepClone();
        await Client.CustomObjects.CreateNamespacedCustomObjectAsync(new JsonObject
        {
            ["apiVersion"] = CanaryResource.ApiVersion,
            ["kind"] = CanaryResource.Kind,
            ["metadata"] = new JsonObject { ["name"] = name },
            ["spec"] = body,
        }, CanaryResource.Group, CanaryResource.Version, ns ?? Namespace, CanaryResource.Plural);
    }

    public async Task SetImageAsync(string deployment, string image, string? ns = null) =>
        await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(
            $$"""[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"{{image}}"}]""", V1Patch.PatchType.JsonPatch), deployment, ns ?? Namespace);

    public async Task<JsonObject> GetCustomAsync(string plural, string name, string group = Istio.Group, string version = Istio.Version, string? ns = null) =>
        (JsonObject)JsonNode.Parse(((System.Text.Json.JsonElement)await Client.CustomObjects.GetNamespacedCustomObjectAsync(group, version, ns ?? Namespace, plural, name)).GetRawText())!;

    public Task<JsonObject> GetCanaryAsync(string name, string? ns = null) => GetCustomAsync(CanaryResource.Plural, name, CanaryResource.Group, CanaryResource.Version, ns);

    /// <summary>Re-checks a condition until it holds, within a generous bound (the bound is a safety net, not an assertion on speed).</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 15)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"never happened: {what}");
            await Task.Delay(25);
        }
    }

    private readonly List<IHostedService> _started = [];

    /// <summary>Starts the bus test harness, which starts every hosted service: the Deployment watch among them.</summary>
    public async Task StartWatcherAsync()
    {
        await Get<ITestHarness>().Start();
        _started.AddRange(Services.GetServices<IHostedService>().OfType<DeploymentWatcher>());
    }

    /// <summary>Stops the watch (as a controller that dies does), leaving the sandbox as it is.</summary>
    public async Task StopWatcherAsync()
    {
        await StopStartedAsync();
        _started.Clear();
    }

    /// <summary>A Deployment "podinfo" (image podinfo:1), its Canary, and the watch that initialises it.</summary>
    public async Task<RolloutTarget> InitializedAsync(JsonObject? spec = null, Func<Task>? beforeCanary = null)
    {
        await CreateDeploymentAsync("podinfo", "podinfo:1");
        if (beforeCanary is not null) await beforeCanary();
        await CreateCanaryAsync("podinfo", "podinfo", spec);
        await StartWatcherAsync();
        // First sight waits for the stable copy (its pods made Ready by the fake kubelet on the real server) within the
        // Canary's progress deadline, and tries again after a pause: on a loaded machine that can outlast 15 s (a CI run
        // timed out here once in six), so the bound is wider.
        await EventuallyAsync(async () => (await GetCanaryAsync("podinfo"))["status"]?["trackedRevision"] is not null, "Canary initialised", seconds: 60);
        return new RolloutTarget(Namespace, "podinfo");
    }

    public async Task<string> RevisionAsync(string deployment, string? ns = null) =>
        PodTemplateHash.Compute((await Client.AppsV1.ReadNamespacedDeploymentAsync(deployment, ns ?? Namespace)).Spec.Template, "canaryflow.dev/track");

    /// <summary>Records each new canary weight of the service's route, as a watcher of the VirtualServices sees it.</summary>
    public async Task WatchCanaryWeightsAsync(string service, System.Collections.Concurrent.ConcurrentQueue<int> seen, CancellationToken ct,
        string? ns = null, RouteSubsets? subsets = null)
    {
        try
        {
            await foreach (var (type, item) in Client.CustomObjects.WatchListNamespacedCustomObjectAsync(Istio.Group, Istio.Version,
                               ns ?? Namespace, Istio.VirtualServices, cancellationToken: ct))
            {
                if (type == WatchEventType.Deleted) continue;
                var weights = VirtualServiceRoutes.Read((JsonObject)CanaryApi.ToNode(item)!, service, ns ?? Namespace, subsets);
                if (weights is { } w && (seen.IsEmpty || seen.Last() != w.Canary)) seen.Enqueue(w.Canary);
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Stops the started services, each given 30 s: a stop that outlasts that fails the test rather than
    /// hanging the run.</summary>
    private async Task StopStartedAsync()
    {
        foreach (var s in _started)
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { await s.StopAsync(grace.Token).WaitAsync(TimeSpan.FromSeconds(60)); }
            catch (TimeoutException) { throw new Xunit.Sdk.XunitException($"{s.GetType().Name} did not stop within 60 s"); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopStartedAsync();
        if (Services.GetService<CanaryFlow.Controller.Tests.ChatOps.CapturingLoggerProvider>() is { } log)
            await File.WriteAllTextAsync(Path.Combine(Environment.GetEnvironmentVariable("CANARYFLOW_TEST_LOG_DIR")!, $"{Namespace}-{Guid.NewGuid():N}.log"), log.All);
        await Services.DisposeAsync();
        if (Kubelet is not null) await Kubelet.DisposeAsync();
        if (_real is not null && _ownsNamespace) await _real.DeleteNamespaceAsync(Namespace);
        if (_ownsSandbox && _sandbox is not null) await _sandbox.DisposeAsync();
    }
}

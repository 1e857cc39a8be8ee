using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Tests.Reliability;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Mesh;
using CanaryFlow.Sandbox.Workloads;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>
/// The whole controller (<see cref="WholeController"/>: every endpoint and hosted service, over HTTP, on the sandbox
/// API server) with one service's stable and canary demo workloads behind the sandbox mesh, so that a test sees what
/// users would: which version answered which request while the controller rewrites the routing.
/// </summary>
public sealed class StrategyWorld : IAsyncDisposable
{
    public const string Ns = WholeController.Ns;

    private StrategyWorld(WholeController controller, string name, DemoWorkload stable, DemoWorkload canary)
    {
        Controller = controller;
        Name = name;
        Client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(controller.Sandbox.KubeconfigPath));
        Traffic = new MeshTraffic(new MeshRouter(controller.Sandbox.Store, Ns), name, stable, canary);
        (Stable, Canary) = (stable, canary);
    }

    public WholeController Controller { get; }
    public string Name { get; }
    public IKubernetes Client { get; }
    public MeshTraffic Traffic { get; }
    public DemoWorkload Stable { get; }
    public DemoWorkload Canary { get; }
    public ObjectStore Store => Controller.Sandbox.Store;

    /// <summary>A Deployment <paramref name="name"/> at 1.0 and its Canary (<paramref name="spec"/> over a minimal one), initialised.</summary>
    public static async Task<StrategyWorld> StartAsync(string name, JsonObject spec, Func<IKubernetes, Task>? beforeCanary = null)
    {
        var controller = await WholeController.StartAsync();
        var stable = await DemoWorkload.StartAsync(new DemoWorkloadOptions(Ns, name + "-primary", Service: name));
        var canary = await DemoWorkload.StartAsync(new DemoWorkloadOptions(Ns, name, Service: name));
        var world = new StrategyWorld(controller, name, stable, canary);
        await world.Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment(name, "1.0"), Ns);
        if (beforeCanary is not null) await beforeCanary(world.Client);
        var body = new JsonObject
        {
            ["targetRef"] = new JsonObject { ["name"] = name },
            ["service"] = new JsonObject { ["port"] = 8080 },
            // Fixed windows: these tests are about routing, judged by checks per interval.
            ["analysis"] = new JsonObject { ["interval"] = "1s", ["mode"] = "fixed-window", ["progressDeadlineSeconds"] = 30 },
        };
        foreach (var (k, v) in spec)
            if (v is JsonObject o && body[k] is JsonObject existing) foreach (var (k2, v2) in o) existing[k2] = v2?.DeepClone();
            else body[k] = v?.DeepClone();
        await world.Client.CustomObjects.CreateNamespacedCustomObjectAsync(new JsonObject
        {
            ["apiVersion"] = CanaryResource.ApiVersion, ["kind"] = CanaryResource.Kind, ["metadata"] = new JsonObject { ["name"] = name }, ["spec"] = body,
        }, CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural);
        await KubeTestHost.EventuallyAsync(() => Task.FromResult((string?)world.Status()?["stableRevision"] is not null), "the Canary is initialised", 60);
        return world;
    }

    public JsonNode? Status() => Store.List(ResourceKinds.Canaries, Ns, LabelSelector.Parse(null), Name).Items.FirstOrDefault()?["status"];

    public string? Phase() => (string?)Status()?["phase"];

    public string? PrimaryImage() => Store.List(ResourceKinds.Deployments, Ns, LabelSelector.Parse(null), Name + "-primary").Items.FirstOrDefault()?
        ["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]?.GetValue<string>();

    /// <summary>The release of <paramref name="version"/> has ended: promoted (Succeeded with the primary on it) or Failed.</summary>
    public bool Finished(string version) => Phase() == "Failed" || (Phase() == "Succeeded" && PrimaryImage() == $"rel/{Name}:{version}");

    public Task ReleaseAsync(string version) => Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(
        $$"""[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"rel/{{Name}}:{{version}}"}]""", V1Patch.PatchType.JsonPatch), Name, Ns);

    /// <summary>Requests from <paramref name="users"/> users in turn until <paramref name="until"/> holds (checked between
    /// rounds) or <paramref name="maxRounds"/> rounds are sent.</summary>
    public async Task SendUntilAsync(Func<bool> until, int users, int maxRounds, Func<int, IReadOnlyDictionary<string, string>?>? headersOf = null)
    {
        for (var round = 0; round < maxRounds && !until(); round++)
        {
            for (var u = 0; u < users; u++) await Traffic.SendAsync($"user-{u}", headersOf?.Invoke(u));
            await Task.Delay(20);
        }
    }

    private static V1Deployment Deployment(string name, string version)
    {
        var labels = new Dictionary<string, string> { ["app"] = name };
        return new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Spec = new V1DeploymentSpec
            {
                Replicas = 2,
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = $"rel/{name}:{version}" }] },
                },
            },
        };
    }

    public async ValueTask DisposeAsync()
    {
        Traffic.Dispose();
        Client.Dispose();
        await Stable.DisposeAsync();
        await Canary.DisposeAsync();
        await Controller.DisposeAsync();
    }
}

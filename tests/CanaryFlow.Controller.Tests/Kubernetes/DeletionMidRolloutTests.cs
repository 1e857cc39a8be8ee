using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Tests.Reliability;
using CanaryFlow.Sandbox.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>A Canary deleted in the middle of a rollout, with the whole controller (saga, workers, watch) running.</summary>
public sealed class DeletionMidRolloutTests : IAsyncLifetime
{
    private const string Ns = WholeController.Ns;
    private WholeController _controller = null!;
    private k8s.Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _controller = await WholeController.StartAsync();
        _client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(_controller.Sandbox.KubeconfigPath));
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _controller.DisposeAsync();
    }

    private ObjectStore Store => _controller.Sandbox.Store;

    private string _name = "basket";

    private JsonNode? Status() => Store.List(ResourceKinds.Canaries, Ns, LabelSelector.Parse(null), _name).Items.FirstOrDefault()?["status"];

    [Fact]
    public async Task Deleting_a_Canary_mid_rollout_stops_the_weights_at_once_and_gives_the_service_back()
    {
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("1.0"), Ns);
        await CreateCanaryAsync(stepWeight: 10);
        await KubeTestHost.EventuallyAsync(() => Task.FromResult((string?)Status()?["stableRevision"] is not null), "the Canary is initialised", 60);
        var weights = Store.Watch(ResourceKinds.VirtualServices, Ns, LabelSelector.Parse(null), "basket", Store.CurrentResourceVersion);

        await SetImageAsync("2.0");
        await KubeTestHost.EventuallyAsync(() => Task.FromResult((int?)Status()?["canaryWeight"] >= 20), "the rollout moves traffic", 60);
        var deleted = await DeleteCanaryAsync();
        var deletedAt = long.Parse((string)deleted["metadata"]!["resourceVersion"]!);

        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the Canary is gone", 60);

        // What the VirtualService went through after the DELETE: at most one write already under way, then 0, then gone.
        weights.Close();
        var after = new List<(string Type, int Canary)>();
        while (weights.Events.TryRead(out var e))
            if (e.ResourceVersion > deletedAt)
                after.Add((e.Type, VirtualServiceRoutes.Read(e.Object, "basket", Ns)?.Canary ?? -1));
        Assert.Equal("DELETED", after.Last().Type);
        var writes = after.Where(a => a.Type == "MODIFIED").Select(a => a.Canary).ToList();
        Assert.Equal(0, writes.Last());
        Assert.True(writes.Count(w => w > 0) <= 1, $"weights written after the deletion: {string.Join(", ", writes)}");
        Assert.Equal(0, writes.SkipWhile(w => w > 0).Sum());

        // The saga was stopped by the deletion (an abort), not by running out of time.
        var events = (await _client.CoreV1.ListNamespacedEventAsync(Ns)).Items.Where(e => e.InvolvedObject.Name == "basket").ToList();
        Assert.Contains(events, e => e.Reason == "RollingBack" && e.Message.Contains("aborted by canaryflow: the Canary is being deleted"));
        Assert.Contains(events, e => e.Reason == "Deleting");

        var target = await _client.AppsV1.ReadNamespacedDeploymentAsync("basket", Ns);
        Assert.Equal("rel/basket:1.0", target.Spec.Template.Spec.Containers[0].Image); // the primary's: 2.0 was never promoted
        Assert.Equal(3, target.Spec.Replicas);
        Assert.Equal(3, target.Status.AvailableReplicas);
        Assert.False(await ExistsAsync(() => _client.AppsV1.ReadNamespacedDeploymentAsync("basket-primary", Ns)));
        Assert.False(await ExistsAsync(() => _client.CustomObjects.GetNamespacedCustomObjectAsync(Istio.Group, Istio.Version, Ns, Istio.DestinationRules, "basket")));
        Assert.DoesNotContain(WholeController.Errors.All.Split('\n'), line => line.Contains("basket", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_Canary_created_again_after_its_deletion_rolls_out_afresh()
    {
        _name = "tote"; // its own name: the error log is shared by every controller these tests start
        await PromotedAsync();
        await DeleteCanaryAsync();
        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the Canary is gone", 60);

        await CreateCanaryAsync(stepWeight: 50);
        await KubeTestHost.EventuallyAsync(() => Task.FromResult((string?)Status()?["stableRevision"] is not null), "the new Canary is initialised", 60);
        await SetImageAsync("3.0");

        await KubeTestHost.EventuallyAsync(() => Task.FromResult((string?)Status()?["phase"] == "Succeeded" && PrimaryImage() == $"rel/{_name}:3.0"), "3.0 promoted", 60);
        Assert.DoesNotContain(WholeController.Errors.All.Split('\n'), line => line.Contains(_name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_deleted_Canarys_series_leave_the_metrics()
    {
        _name = "crate"; // its own name: the error log is shared by every controller these tests start
        await PromotedAsync();
        var series = $"canaryflow_canary_weight_percent{{namespace=\"{Ns}\",target=\"{_name}\"}} 0";
        await KubeTestHost.EventuallyAsync(async () => (await _controller.Http.GetStringAsync("/metrics")).Contains(series), "the weight series", 30);
        Assert.Contains($"canaryflow_analysis_checks_total{{namespace=\"{Ns}\",target=\"{_name}\",result=\"passed\"}}", await _controller.Http.GetStringAsync("/metrics"));

        await DeleteCanaryAsync();
        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the Canary is gone", 60);

        // Every replica's metrics forget it: before, its weight and checks stayed in /metrics for the process' lifetime.
        await KubeTestHost.EventuallyAsync(async () => !(await _controller.Http.GetStringAsync("/metrics")).Contains($"target=\"{_name}\""),
            "the deleted Canary's series leave /metrics", 30);
    }

    /// <summary>The Deployment at 1.0 and its Canary (stepWeight 50), initialised, then 2.0 promoted.</summary>
    private async Task PromotedAsync()
    {
        await _client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("1.0"), Ns);
        await CreateCanaryAsync(stepWeight: 50);
        await KubeTestHost.EventuallyAsync(() => Task.FromResult((string?)Status()?["stableRevision"] is not null), "the Canary is initialised", 60);
        await SetImageAsync("2.0");
        await KubeTestHost.EventuallyAsync(() => Task.FromResult((string?)Status()?["phase"] == "Succeeded" && PrimaryImage() == $"rel/{_name}:2.0"), "2.0 promoted", 60);
    }

    private string? PrimaryImage() => Store.List(ResourceKinds.Deployments, Ns, LabelSelector.Parse(null), _name + "-primary").Items.FirstOrDefault()?
        ["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]?.GetValue<string>();

    private Task CreateCanaryAsync(int stepWeight) => _client.CustomObjects.CreateNamespacedCustomObjectAsync(JsonNode.Parse($$"""
        { "apiVersion": "canaryflow.dev/v1alpha1", "kind": "Canary", "metadata": { "name": "{{_name}}" },
          "spec": { "targetRef": { "name": "{{_name}}" }, "service": { "port": 8080 },
                    "analysis": { "interval": "1s", "mode": "fixed-window", "stepWeight": {{stepWeight}}, "maxWeight": 100, "progressDeadlineSeconds": 30 } } }
        """)!, CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural);

    private Task SetImageAsync(string version) => _client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(
        $$"""[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"rel/{{_name}}:{{version}}"}]""", V1Patch.PatchType.JsonPatch), _name, Ns);

    private async Task<JsonObject> DeleteCanaryAsync() => (JsonObject)CanaryFlow.Controller.Kubernetes.Api.CanaryApi.ToNode(
        await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, _name))!;

    private Task<bool> CanaryExistsAsync() => ExistsAsync(() =>
        _client.CustomObjects.GetNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, _name));

    private static async Task<bool> ExistsAsync(Func<Task> read)
    {
        try { await read(); return true; }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
    }

    private V1Deployment Deployment(string version)
    {
        var labels = new Dictionary<string, string> { ["app"] = _name };
        return new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = _name, Labels = labels },
            Spec = new V1DeploymentSpec
            {
                Replicas = 3,
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = $"rel/{_name}:{version}" }] },
                },
            },
        };
    }
}

using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>Deleting a Canary gives the service back (Flagger's revertOnDeletion), on the sandbox and on the real API server.</summary>
public abstract class CanaryDeletionContract(KubeServer server) : TwoServerTest(server)
{
    protected IKubernetes Client => Host.Client;
    protected IWorkloadController Workloads => Host.Get<IWorkloadController>();
    protected ITrafficRouter Router => Host.Get<ITrafficRouter>();

    /// <summary>A release of podinfo:2 carried all the way, as the saga drives the adapters.</summary>
    protected async Task PromoteAsync(RolloutTarget target)
    {
        await Host.SetImageAsync("podinfo", "podinfo:2");
        var revision = await Host.RevisionAsync("podinfo");
        Assert.True((await Workloads.PrepareUntilDoneAsync(target, revision, default)).Succeeded);
        await Router.SetWeightsAsync(target, 50, default);
        Assert.True((await Workloads.PromoteUntilDoneAsync(target, revision, default)).Succeeded);
        await Router.SetWeightsAsync(target, 0, default);
        await Workloads.ScaleCanaryToZeroAsync(target, default);
    }

    protected Task DeleteCanaryAsync() =>
        Client.CustomObjects.DeleteNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo");

    protected async Task<bool> ExistsAsync(Func<Task> read)
    {
        try { await read(); return true; }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
    }

    protected Task<bool> CanaryExistsAsync() => ExistsAsync(() => Host.GetCanaryAsync("podinfo"));
    protected Task<bool> DeploymentExistsAsync(string name) => ExistsAsync(() => Client.AppsV1.ReadNamespacedDeploymentAsync(name, Ns));
    protected Task<bool> CustomExistsAsync(string plural, string name) => ExistsAsync(() => Host.GetCustomAsync(plural, name));

    protected async Task<List<string>> EventReasonsAsync() =>
        (await Client.CoreV1.ListNamespacedEventAsync(Ns)).Items.Where(e => e.InvolvedObject.Kind == "Canary").Select(e => e.Reason ?? "").ToList();

    [Fact]
    public async Task Deleting_a_Canary_after_a_promotion_leaves_the_target_running_the_promoted_version_with_all_traffic()
    {
        var target = await Host.InitializedAsync();
        Assert.Contains(CanaryFinalizer.Name, (await Host.GetCanaryAsync("podinfo"))["metadata"]!["finalizers"]!.AsArray().Select(f => (string?)f));
        await PromoteAsync(target);
        Assert.Equal(0, (await Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Replicas);

        await DeleteCanaryAsync();

        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the Canary is gone");
        var restored = await Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns);
        Assert.Equal("podinfo:2", restored.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(2, restored.Spec.Replicas);
        Assert.Equal(2, restored.Status.AvailableReplicas);
        Assert.False(restored.Spec.Template.Metadata.Labels.ContainsKey("canaryflow.dev/track"));
        Assert.False(await DeploymentExistsAsync("podinfo-primary"));
        Assert.False(await CustomExistsAsync(Istio.VirtualServices, "podinfo"));
        Assert.False(await CustomExistsAsync(Istio.DestinationRules, "podinfo"));
        // With no VirtualService the Service sends every request to the target's pods.
        var service = await Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns);
        Assert.All(service.Spec.Selector, s => Assert.Equal(s.Value, restored.Spec.Template.Metadata.Labels[s.Key]));
        Assert.Subset(new HashSet<string>(await EventReasonsAsync()), new HashSet<string> { "RevertingTarget", "TrafficReverted", "PrimaryDeleted", "Reverted" });
    }

    [Fact]
    public async Task With_revertOnDeletion_false_the_Canary_goes_and_every_other_object_stays()
    {
        var target = await Host.InitializedAsync(new JsonObject { ["revertOnDeletion"] = false });

        await DeleteCanaryAsync();

        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the Canary is gone");
        Assert.True(await DeploymentExistsAsync("podinfo-primary"));
        Assert.True(await CustomExistsAsync(Istio.VirtualServices, "podinfo"));
        Assert.True(await CustomExistsAsync(Istio.DestinationRules, "podinfo"));
        Assert.Equal(0, (await Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Replicas);
        Assert.Equal("canary", (await Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Template.Metadata.Labels["canaryflow.dev/track"]);
        Assert.Contains("Deleted", await EventReasonsAsync());
        _ = target;
    }

    /// <summary>Routes to the service: one the user wrote with stable/canary subsets, one with a bare destination
    /// (CanaryFlow adds a subset and a canary destination to it), and routes elsewhere.</summary>
    private string UserSpec => UserSpecInDefault.Replace("podinfo.default.", $"podinfo.{Ns}.");

    private const string UserSpecInDefault = """
        {"hosts":["podinfo.example.com"],"gateways":["public-gw"],"http":[
          {"name":"api","match":[{"uri":{"prefix":"/api"}}],"retries":{"attempts":3,"perTryTimeout":"2s","retryOn":"5xx"},"timeout":"10s",
           "route":[{"destination":{"host":"podinfo","subset":"stable","port":{"number":8080}},"weight":100,"headers":{"request":{"set":{"x-track":"yes"}}}},
                    {"destination":{"host":"podinfo","subset":"canary","port":{"number":8080}},"weight":0}]},
          {"name":"web","route":[{"destination":{"host":"podinfo.default.svc.cluster.local","port":{"number":8080}}}]},
          {"name":"other","route":[{"destination":{"host":"legacy.other.svc.cluster.local"},"weight":100}]}],
         "tcp":[{"route":[{"destination":{"host":"db"}}]}]}
        """;

    [Fact]
    public async Task Deleting_a_Canary_that_adopted_a_VirtualService_gives_back_the_users_routes_byte_for_byte()
    {
        var target = await Host.InitializedAsync(new JsonObject { ["virtualService"] = new JsonObject { ["name"] = "podinfo-vs" } }, async () =>
            await Client.CustomObjects.CreateNamespacedCustomObjectAsync(new JsonObject
            {
                ["apiVersion"] = Istio.ApiVersion, ["kind"] = "VirtualService",
                ["metadata"] = new JsonObject { ["name"] = "podinfo-vs", ["annotations"] = new JsonObject { ["owner"] = "team-a" } },
                ["spec"] = JsonNode.Parse(UserSpec),
            }, Istio.Group, Istio.Version, Ns, Istio.VirtualServices));
        await Router.SetWeightsAsync(target, 30, default); // mid-rollout: both routes split, the bare one rewritten
        var during = await Host.GetCustomAsync(Istio.VirtualServices, "podinfo-vs");
        Assert.Equal(2, during["spec"]!["http"]![1]!["route"]!.AsArray().Count);

        await DeleteCanaryAsync();

        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the Canary is gone");
        var after = await Host.GetCustomAsync(Istio.VirtualServices, "podinfo-vs");
        Assert.Equal(KubeTestHost.Canonical(JsonNode.Parse(UserSpec)), after["spec"]!.ToJsonString());
        Assert.Equal("team-a", (string?)after["metadata"]!["annotations"]!["owner"]);
        Assert.False(await CustomExistsAsync(Istio.DestinationRules, "podinfo")); // the one CanaryFlow created
        Assert.False(await DeploymentExistsAsync("podinfo-primary"));
        Assert.Equal(2, (await Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Status.AvailableReplicas);
    }

    [Fact]
    public async Task A_controller_stopped_halfway_through_a_deletion_is_finished_by_the_next_one()
    {
        await Host.InitializedAsync();
        await Host.StopWatcherAsync(); // the leader is gone ...
        var reverter = Host.Get<CanaryReverter>();
        var ctx = CanaryFlow.Controller.Kubernetes.Api.CanaryContext.From(CanaryResource.FromObject(await Host.GetCanaryAsync("podinfo")), "canaryflow.dev/track");
        Assert.NotNull(await reverter.RestoreTargetAsync(ctx, default)); // ... after the first step of a deletion
        await DeleteCanaryAsync();
        Assert.True(await CanaryExistsAsync()); // held by the finalizer while no controller runs

        await using var next = await Host.StartBesideAsync();
        await next.StartWatcherAsync();

        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the next controller finished the deletion");
        Assert.False(await DeploymentExistsAsync("podinfo-primary"));
        Assert.False(await CustomExistsAsync(Istio.VirtualServices, "podinfo"));
        Assert.Equal(2, (await Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Status.AvailableReplicas);
    }

    [Fact]
    public async Task A_target_that_does_not_become_available_keeps_the_finalizer_and_the_traffic_on_the_primary_until_it_does()
    {
        var target = await Host.InitializedAsync(new JsonObject
        {
            ["analysis"] = new JsonObject { ["progressDeadlineSeconds"] = 1, ["interval"] = "1s" },
            ["imagePolicy"] = new JsonObject { ["container"] = "app", ["repository"] = "ghcr.io/acme/podinfo" },
        });
        var tracked = Host.Get<CanaryFlow.Controller.Triggers.ITrackedTargets>();
        Assert.Single(await tracked.ListAsync(default));
        Host.FailReady("podinfo");

        await DeleteCanaryAsync();

        await KubeTestHost.EventuallyAsync(async () => (await EventReasonsAsync()).Contains("RevertFailed"), "the failure is reported", seconds: 40); // generous: the real server shares the run with other classes
        Assert.True(await CanaryExistsAsync());
        Assert.Contains(CanaryFinalizer.Name, (await Host.GetCanaryAsync("podinfo"))["metadata"]!["finalizers"]!.AsArray().Select(f => (string?)f));
        Assert.Equal(new TrafficWeights(100, 0), VirtualServiceRoutes.Read(await Host.GetCustomAsync(Istio.VirtualServices, "podinfo"), "podinfo", Ns));
        Assert.True(await DeploymentExistsAsync("podinfo-primary"));
        Assert.Empty(await tracked.ListAsync(default)); // image pushes no longer change a target being given back

        // Fixed (its pods pass their probes now): the Deployment becomes available, and that change makes the retry succeed.
        Host.FailReady("podinfo", fail: false);
        await KubeTestHost.EventuallyAsync(async () => !await CanaryExistsAsync(), "the Canary is gone once the target is available");
        Assert.False(await DeploymentExistsAsync("podinfo-primary"));
        Assert.Equal(2, (await Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Replicas);
        _ = target;
    }
}

public sealed class CanaryDeletionOnSandbox() : CanaryDeletionContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class CanaryDeletionOnRealServer() : CanaryDeletionContract(KubeServer.Real);

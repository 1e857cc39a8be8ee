using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The adapters driven as the rollout saga drives them, on the sandbox and on the real API server.</summary>
public abstract class RolloutAdapterContract(KubeServer server) : TwoServerTest(server)
{
    private IWorkloadController Workloads => Host.Get<IWorkloadController>();
    private ITrafficRouter Router => Host.Get<ITrafficRouter>();

    [Fact]
    public async Task A_Canary_on_an_existing_Deployment_creates_the_stable_copy_and_the_routing_objects()
    {
        var target = await Host.InitializedAsync();

        var primary = await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-primary", Ns);
        Assert.Equal("podinfo:1", primary.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal("stable", primary.Spec.Template.Metadata.Labels["canaryflow.dev/track"]);
        await KubeTestHost.EventuallyAsync(async () =>
            (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Replicas == 0, "canary scaled to zero");
        var canaryPods = (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Template.Metadata.Labels;
        Assert.Equal("canary", canaryPods["canaryflow.dev/track"]);

        var rule = await Host.GetCustomAsync(Istio.DestinationRules, "podinfo");
        Assert.Equal(["stable", "canary"], rule["spec"]!["subsets"]!.AsArray().Select(s => (string)s!["name"]!));
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));
        Assert.Equal(new Dictionary<string, string> { ["canaryflow.dev/target"] = "podinfo" }, (await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns)).Spec.Selector);

        var canary = await Host.GetCanaryAsync("podinfo");
        Assert.Equal(await Host.RevisionAsync("podinfo"), (string?)canary["status"]!["stableRevision"]);
        Assert.Equal("Initialized", (string?)canary["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!["reason"]);
    }

    [Fact]
    public async Task A_full_rollout_moves_weights_step_by_step_then_leaves_all_traffic_on_the_promoted_stable()
    {
        var target = await Host.InitializedAsync();
        var seen = new ConcurrentQueue<int>();
        using var stop = new CancellationTokenSource();
        var watching = Host.WatchCanaryWeightsAsync("podinfo", seen, stop.Token);
        await KubeTestHost.EventuallyAsync(() => Task.FromResult(!seen.IsEmpty), "the weight watcher is connected");

        await Host.SetImageAsync("podinfo", "podinfo:2");
        var revision = await Host.RevisionAsync("podinfo");
        Assert.True((await Workloads.PrepareUntilDoneAsync(target, revision, default)).Succeeded);
        Assert.Equal(2, (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Status.AvailableReplicas);

        var store = Host.Get<IRolloutStore>();
        var state = new RolloutState { CorrelationId = RolloutIds.ForTarget(target), Target = target, Revision = revision, CurrentState = RolloutPhases.Progressing };
        foreach (var (weight, step) in Enumerable.Range(1, 10).Select(i => (i * 10, i - 1)))
        {
            await Router.SetWeightsAsync(target, weight, default);
            (state.AppliedWeight, state.StepIndex, state.Version) = (weight, step, state.Version + 1);
            await store.SaveAsync(state, state.Version - 1, default);
            var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
            Assert.Equal(weight, (int?)status["canaryWeight"]);
            Assert.Equal(step + 1, (int?)status["currentStep"]);
            Assert.Equal("Progressing", (string?)status["phase"]);
        }

        Assert.True((await Workloads.PromoteUntilDoneAsync(target, revision, default)).Succeeded);
        await Router.SetWeightsAsync(target, 0, default);
        await Workloads.ScaleCanaryToZeroAsync(target, default);

        await KubeTestHost.EventuallyAsync(() => Task.FromResult(seen.LastOrDefault(-1) == 0 && seen.Count >= 12), "watcher saw the final weights");
        await stop.CancelAsync();
        await watching;
        Assert.Equal([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], seen.ToArray());
        var primary = await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-primary", Ns);
        Assert.Equal("podinfo:2", primary.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(0, (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Replicas);
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));
    }

    [Fact]
    public async Task A_rollback_leaves_all_traffic_on_stable_and_the_canary_at_zero_replicas()
    {
        var target = await Host.InitializedAsync();
        await Host.SetImageAsync("podinfo", "podinfo:bad");
        Assert.True((await Workloads.PrepareUntilDoneAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);
        await Router.SetWeightsAsync(target, 30, default);

        var before = await Router.SetWeightsAsync(target, 0, default);
        await Workloads.ScaleCanaryToZeroAsync(target, default);

        Assert.Equal(new TrafficWeights(70, 30), before);
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));
        Assert.Equal(0, (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Replicas);
        Assert.Equal("podinfo:1", (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-primary", Ns)).Spec.Template.Spec.Containers[0].Image);
    }

    [Fact]
    public async Task A_canary_that_asks_for_a_baseline_gets_a_fresh_stable_copy_of_its_size_which_goes_away_with_it()
    {
        var target = await Host.InitializedAsync(new JsonObject
        {
            ["analysis"] = new JsonObject { ["progressDeadlineSeconds"] = 5, ["interval"] = "1s", ["comparison"] = new JsonObject { ["useBaseline"] = true } },
        });
        await Host.SetImageAsync("podinfo", "podinfo:2");
        Assert.True((await Workloads.PrepareUntilDoneAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);

        var baseline = await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-baseline", Ns);
        var canary = await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns);
        var primary = await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-primary", Ns);
        Assert.Equal("podinfo:1", baseline.Spec.Template.Spec.Containers[0].Image); // the stable version
        Assert.Equal(canary.Spec.Replicas, baseline.Spec.Replicas);
        Assert.Equal("stable", baseline.Spec.Template.Metadata.Labels["canaryflow.dev/track"]);
        Assert.Equal(baseline.Spec.Replicas, baseline.Status.AvailableReplicas);
        // The primary's pods are not the baseline's.
        Assert.False(primary.Spec.Template.Metadata.Labels.ContainsKey("canaryflow.dev/baseline"));
        Assert.Equal("true", baseline.Spec.Selector.MatchLabels["canaryflow.dev/baseline"]);

        await Workloads.ScaleCanaryToZeroAsync(target, default);
        Assert.Equal(0, (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-baseline", Ns)).Spec.Replicas);
    }

    [Fact]
    public async Task A_primary_that_is_not_available_is_answered_not_yet_and_leaves_traffic_on_the_canary()
    {
        var target = await Host.InitializedAsync();
        await Host.SetImageAsync("podinfo", "podinfo:2");
        var revision = await Host.RevisionAsync("podinfo");
        Assert.True((await Workloads.PrepareUntilDoneAsync(target, revision, default)).Succeeded);
        await Router.SetWeightsAsync(target, 100, default);
        Host.FailReady("podinfo-primary");

        var result = await Workloads.PromoteStableAsync(target, revision, default);
        var again = await Workloads.PromoteStableAsync(target, revision, default);

        // The worker's deadline (counted from the first answer) turns "not yet" into a failed promotion (Workers/WorkUnderWay).
        Assert.True(result.InProgress && again.InProgress);
        Assert.Contains("podinfo-primary", result.Reason);
        Assert.Contains("podinfo-primary", again.Reason);
        Assert.Equal(new TrafficWeights(0, 100), await Router.GetWeightsAsync(target, default));
        Assert.Equal(2, (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Replicas);
    }

    [Fact]
    public async Task Routing_objects_deleted_behind_the_controllers_back_are_created_again()
    {
        var target = await Host.InitializedAsync();
        await Host.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Istio.Group, Istio.Version, Ns, Istio.VirtualServices, "podinfo");
        await Host.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(Istio.Group, Istio.Version, Ns, Istio.DestinationRules, "podinfo");

        await Router.SetWeightsAsync(target, 20, default);

        Assert.Equal(new TrafficWeights(80, 20), await Router.GetWeightsAsync(target, default));
        Assert.NotNull(await Host.GetCustomAsync(Istio.DestinationRules, "podinfo"));
    }

    [Fact]
    public async Task Preparing_a_revision_the_canary_does_not_run_fails_without_touching_traffic()
    {
        var target = await Host.InitializedAsync();
        var result = await Workloads.PrepareCanaryAsync(target, "0000000000", default);
        Assert.False(result.Succeeded);
        Assert.Contains("0000000000", result.Reason);
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));
    }

    [Fact]
    public async Task A_user_owned_VirtualService_keeps_every_other_field_byte_for_byte()
    {
        var userSpec = """
            {"hosts":["podinfo.example.com"],"gateways":["public-gw"],"http":[
              {"name":"api","match":[{"uri":{"prefix":"/api"}}],"retries":{"attempts":3,"perTryTimeout":"2s","retryOn":"5xx"},"timeout":"10s",
               "route":[{"destination":{"host":"podinfo","subset":"stable","port":{"number":8080}},"weight":100,"headers":{"request":{"set":{"x-track":"yes"}}}},
                        {"destination":{"host":"podinfo","subset":"canary","port":{"number":8080}},"weight":0}]},
              {"name":"other","route":[{"destination":{"host":"legacy.other.svc.cluster.local"},"weight":100}]}],
             "tcp":[{"route":[{"destination":{"host":"db"}}]}]}
            """;
        var target = await Host.InitializedAsync(new JsonObject { ["virtualService"] = new JsonObject { ["name"] = "podinfo-vs" } }, async () =>
            await Host.Client.CustomObjects.CreateNamespacedCustomObjectAsync(new JsonObject
            {
                ["apiVersion"] = Istio.ApiVersion, ["kind"] = "VirtualService",
                ["metadata"] = new JsonObject { ["name"] = "podinfo-vs", ["annotations"] = new JsonObject { ["owner"] = "team-a" } },
                ["spec"] = JsonNode.Parse(userSpec),
            }, Istio.Group, Istio.Version, Ns, Istio.VirtualServices));

        await Router.SetWeightsAsync(target, 30, default);

        var after = await Host.GetCustomAsync(Istio.VirtualServices, "podinfo-vs");
        var expected = JsonNode.Parse(userSpec)!;
        expected["http"]![0]!["route"]![0]!["weight"] = 70;
        expected["http"]![0]!["route"]![1]!["weight"] = 30;
        Assert.Equal(KubeTestHost.Canonical(expected), after["spec"]!.ToJsonString());
        Assert.Equal("team-a", (string?)after["metadata"]!["annotations"]!["owner"]);
        Assert.Null(await Host.Get<CanaryFlow.Controller.Kubernetes.Api.CanaryApi>()
            .GetCustomAsync(Istio.Group, Istio.Version, Ns, Istio.VirtualServices, "podinfo", default)); // none of its own
    }
}

public sealed class RolloutAdaptersOnSandbox() : RolloutAdapterContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class RolloutAdaptersOnRealServer() : RolloutAdapterContract(KubeServer.Real);

/// <summary>Adapters at the edges: a canary that never becomes ready, image triggers.</summary>
public abstract class WorkloadEdgeContract(KubeServer server) : TwoServerTest(server)
{
    [Fact]
    public async Task A_canary_not_available_is_answered_not_yet_at_once_and_prepared_on_a_later_ask_once_it_is()
    {
        // A ten-minute deadline: a preparation that waited for the canary inside the call would hold this test (and, in the
        // controller, a partition's consumer slot) for ten minutes.
        var target = await Host.InitializedAsync(new JsonObject { ["analysis"] = new JsonObject { ["progressDeadlineSeconds"] = 600 } });
        Host.FailReady("podinfo");
        await Host.SetImageAsync("podinfo", "podinfo:crashloop");
        var workloads = Host.Get<IWorkloadController>();
        var revision = await Host.RevisionAsync("podinfo");

        var first = await workloads.PrepareCanaryAsync(target, revision, default);
        await KubeTestHost.EventuallyAsync(async () => (await workloads.PrepareCanaryAsync(target, revision, default)).Reason.Contains(" of "),
            "the canary's own status read");

        Assert.True(first.InProgress);
        Assert.Equal(TimeSpan.FromSeconds(600), first.WaitUpTo);
        Assert.Contains("canary Deployment", first.Reason);
        Assert.Equal(new TrafficWeights(100, 0), await Host.Get<ITrafficRouter>().GetWeightsAsync(target, default));
        Host.FailReady("podinfo", fail: false);
        Assert.True((await workloads.PrepareUntilDoneAsync(target, revision, default)).Succeeded);
    }

    [Fact]
    public async Task The_image_updater_patches_only_the_named_container_and_the_tracked_targets_come_from_Canaries()
    {
        var target = await Host.InitializedAsync(new JsonObject
        {
            ["imagePolicy"] = new JsonObject
            {
                ["container"] = "app", ["repository"] = "ghcr.io/acme/podinfo",
                ["tagPolicy"] = new JsonObject { ["kind"] = "semver", ["value"] = ">=1.0.0" },
            },
        });
        var tracked = Assert.Single(await Host.Get<CanaryFlow.Controller.Triggers.ITrackedTargets>().ListAsync(default));
        Assert.Equal(new CanaryFlow.Controller.Triggers.TrackedTarget(target, "app", "ghcr.io/acme/podinfo",
            new CanaryFlow.Controller.Triggers.TagPolicy("semver", ">=1.0.0")), tracked);

        var updater = Host.Get<CanaryFlow.Controller.Triggers.IImageUpdater>();
        Assert.True(await updater.SetImageAsync(target, "app", "ghcr.io/acme/podinfo:1.2.0", default));
        Assert.False(await updater.SetImageAsync(target, "app", "ghcr.io/acme/podinfo:1.2.0", default));
        await Assert.ThrowsAsync<InvalidOperationException>(() => updater.SetImageAsync(target, "sidecar", "x:1", default));
        Assert.Equal("ghcr.io/acme/podinfo:1.2.0", (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", Ns)).Spec.Template.Spec.Containers[0].Image);
    }
}

public sealed class WorkloadEdgesOnSandbox() : WorkloadEdgeContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class WorkloadEdgesOnRealServer() : WorkloadEdgeContract(KubeServer.Real);

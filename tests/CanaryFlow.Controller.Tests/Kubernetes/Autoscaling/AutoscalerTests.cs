using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Autoscaling;

/// <summary>
/// spec.autoscalerRef: the primary gets a copy of the target's HorizontalPodAutoscaler, and the autoscaler (the real
/// kube-controller-manager's HPA controller, or the sandbox's) acts on both as Kubernetes does: the copy scales the
/// primary, the target's own HPA leaves the idle canary at 0 and scales it while a rollout runs.
/// </summary>
public abstract class AutoscalerContract(KubeServer server) : TwoServerTest(server)
{
    /// <summary>The real HPA controller re-syncs every 15 s; this bound only keeps a broken test from hanging.</summary>
    private const int AutoscalerSeconds = 60;

    private static JsonObject WithHpa => new() { ["autoscalerRef"] = new JsonObject { ["apiVersion"] = "autoscaling/v2", ["kind"] = "HorizontalPodAutoscaler", ["name"] = "podinfo" } };

    private Task CreateHpaAsync(int min, int max, string name = "podinfo") =>
        Host.Client.AutoscalingV2.CreateNamespacedHorizontalPodAutoscalerAsync(new V2HorizontalPodAutoscaler
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V2HorizontalPodAutoscalerSpec
            {
                ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "podinfo" },
                MinReplicas = min, MaxReplicas = max,
                Metrics = [new V2MetricSpec { Type = "Resource", Resource = new V2ResourceMetricSource { Name = "cpu", Target = new V2MetricTarget { Type = "Utilization", AverageUtilization = 80 } } }],
            },
        }, Ns);

    private Task<V2HorizontalPodAutoscaler> HpaAsync(string name) => Host.Client.AutoscalingV2.ReadNamespacedHorizontalPodAutoscalerAsync(name, Ns);
    private async Task<int?> ReplicasAsync(string name) => (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync(name, Ns)).Spec.Replicas;

    [Fact]
    public async Task The_primary_gets_its_own_copy_of_the_HPA_which_scales_it_while_the_idle_target_is_not_autoscaled()
    {
        await Host.InitializedAsync(WithHpa, beforeCanary: () => CreateHpaAsync(min: 3, max: 6));

        var copy = await HpaAsync("podinfo-primary");
        var source = await HpaAsync("podinfo");
        Assert.Equal(("Deployment", "podinfo-primary"), (copy.Spec.ScaleTargetRef.Kind, copy.Spec.ScaleTargetRef.Name));
        Assert.Equal((3, 6), (copy.Spec.MinReplicas, copy.Spec.MaxReplicas));
        Assert.Equal(KubernetesJson.Serialize(source.Spec.Metrics), KubernetesJson.Serialize(copy.Spec.Metrics));
        Assert.Equal("canaryflow", copy.Metadata.Labels["app.kubernetes.io/managed-by"]);
        Assert.Equal("podinfo", source.Spec.ScaleTargetRef.Name); // the user's HPA is left as written

        // The primary was created at the target's 2 replicas: its HPA, not CanaryFlow, brings it to its minimum.
        await KubeTestHost.EventuallyAsync(async () => await ReplicasAsync("podinfo-primary") == 3, "the primary's HPA scales it to minReplicas", AutoscalerSeconds);
        // The canary was scaled to 0 after initialisation, and its HPA does not fight that: Kubernetes disables
        // autoscaling for a workload at 0 replicas.
        await KubeTestHost.EventuallyAsync(async () => (await HpaAsync("podinfo")).Status?.Conditions?
            .Any(c => c.Type == "ScalingActive" && c.Reason == "ScalingDisabled") == true, "the target's HPA reports ScalingDisabled", AutoscalerSeconds);
        Assert.Equal(0, await ReplicasAsync("podinfo"));
    }

    [Fact]
    public async Task During_a_rollout_the_target_HPA_scales_the_canary_and_promotion_brings_the_primary_copy_in_step()
    {
        var target = await Host.InitializedAsync(WithHpa, beforeCanary: () => CreateHpaAsync(min: 3, max: 6));
        await KubeTestHost.EventuallyAsync(async () => await ReplicasAsync("podinfo-primary") == 3, "primary at its HPA's minimum", AutoscalerSeconds);

        // The release also changes the autoscaling: min 4, max 8.
        await Host.Client.AutoscalingV2.PatchNamespacedHorizontalPodAutoscalerAsync(
            new V1Patch("""{"spec":{"minReplicas":4,"maxReplicas":8}}""", V1Patch.PatchType.MergePatch), "podinfo", Ns);
        await Host.SetImageAsync("podinfo", "podinfo:2");
        var revision = await Host.RevisionAsync("podinfo");
        var workloads = Host.Get<IWorkloadController>();
        Assert.True((await workloads.PrepareUntilDoneAsync(target, revision, default)).Succeeded);

        // The canary starts at the primary's size; from there its own HPA (now active again) enforces its minimum.
        await KubeTestHost.EventuallyAsync(async () => await ReplicasAsync("podinfo") == 4, "the target's HPA scales the running canary", AutoscalerSeconds);
        // Until promotion the stable version keeps the autoscaling it was proven with.
        Assert.Equal((3, 6), ((await HpaAsync("podinfo-primary")).Spec.MinReplicas, (await HpaAsync("podinfo-primary")).Spec.MaxReplicas));

        Assert.True((await workloads.PromoteUntilDoneAsync(target, revision, default)).Succeeded);
        var copy = await HpaAsync("podinfo-primary");
        Assert.Equal((4, 8), (copy.Spec.MinReplicas, copy.Spec.MaxReplicas));
        Assert.Equal("podinfo-primary", copy.Spec.ScaleTargetRef.Name);
        await KubeTestHost.EventuallyAsync(async () => await ReplicasAsync("podinfo-primary") == 4, "the promoted primary follows its new minimum", AutoscalerSeconds);
    }

    [Fact]
    public async Task An_autoscalerRef_to_a_missing_HPA_is_an_invalid_spec_and_nothing_is_created()
    {
        await Host.CreateDeploymentAsync("podinfo", "podinfo:1");
        await Host.CreateCanaryAsync("podinfo", "podinfo", WithHpa);
        await Host.StartWatcherAsync();

        await KubeTestHost.EventuallyAsync(async () => (await Host.GetCanaryAsync("podinfo"))["status"]?["conditions"] is JsonArray, "condition written");
        var ready = (await Host.GetCanaryAsync("podinfo"))["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!;
        Assert.Equal("InvalidSpec", (string?)ready["reason"]);
        Assert.Contains("HorizontalPodAutoscaler", (string?)ready["message"]);
        Assert.Null(await Host.Get<CanaryFlow.Controller.Kubernetes.Workloads.Deployments>().TryReadAsync(Ns, "podinfo-primary", default));
    }

    /// <summary>The HPAs that scale the primary (what the HPA controller acts on), by name, with their bounds.</summary>
    private async Task<List<string>> PrimaryHpasAsync() =>
        [.. (await Host.Client.AutoscalingV2.ListNamespacedHorizontalPodAutoscalerAsync(Ns)).Items
            .Where(h => h.Spec.ScaleTargetRef.Name == "podinfo-primary").Select(h => $"{h.Metadata.Name} {h.Spec.MinReplicas}-{h.Spec.MaxReplicas}").Order()];

    private Task PatchCanaryAsync(string mergePatch) => Host.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
        new V1Patch(mergePatch, V1Patch.PatchType.MergePatch), CanaryFlow.Controller.Kubernetes.Model.CanaryResource.Group,
        CanaryFlow.Controller.Kubernetes.Model.CanaryResource.Version, Ns, CanaryFlow.Controller.Kubernetes.Model.CanaryResource.Plural, "podinfo");

    [Fact]
    public async Task Renaming_autoscalerRef_later_replaces_the_primarys_HPA_copy_and_removing_it_deletes_the_copy()
    {
        await Host.InitializedAsync(WithHpa, beforeCanary: () => CreateHpaAsync(min: 2, max: 4));
        Assert.Equal(["podinfo-primary 2-4"], await PrimaryHpasAsync());

        // The user moves the service to another HPA of theirs: the copy follows it, and only one HPA scales the primary.
        await CreateHpaAsync(min: 3, max: 5, name: "podinfo-v2");
        await PatchCanaryAsync("""{"spec":{"autoscalerRef":{"name":"podinfo-v2"}}}""");
        await KubeTestHost.EventuallyAsync(async () => (await PrimaryHpasAsync()).SequenceEqual(["podinfo-v2-primary 3-5"]),
            "the copy of podinfo-v2 replaces the copy of podinfo");

        await PatchCanaryAsync("""{"spec":{"autoscalerRef":null}}""");
        await KubeTestHost.EventuallyAsync(async () => (await PrimaryHpasAsync()).Count == 0, "no HPA scales the primary once autoscalerRef is gone");
        var left = (await Host.Client.AutoscalingV2.ListNamespacedHorizontalPodAutoscalerAsync(Ns)).Items.Select(h => h.Metadata.Name).Order();
        Assert.Equal(["podinfo", "podinfo-v2"], left); // the user's own are left as they are
    }

    [Fact]
    public async Task A_copy_left_by_an_autoscalerRef_removed_while_no_watch_ran_goes_at_the_next_reconcile()
    {
        var target = await Host.InitializedAsync(WithHpa, beforeCanary: () => CreateHpaAsync(min: 2, max: 4));
        await Host.StopWatcherAsync(); // the change below is met by no watch event (a controller down, a relist)
        await PatchCanaryAsync("""{"spec":{"autoscalerRef":null}}""");
        Assert.Equal(["podinfo-primary 2-4"], await PrimaryHpasAsync());

        var ctx = await Host.Get<CanaryApi>().ResolveAsync(target, default);
        Assert.Null(await Host.Get<CanaryFlow.Controller.Kubernetes.Workloads.CanaryInitializer>().EnsureAsync(ctx, firstSight: false, default));

        Assert.Empty(await PrimaryHpasAsync());
        Assert.Equal(["podinfo"], (await Host.Client.AutoscalingV2.ListNamespacedHorizontalPodAutoscalerAsync(Ns)).Items.Select(h => h.Metadata.Name));
    }

    [Fact]
    public async Task Giving_the_service_back_deletes_the_primary_HPA_and_keeps_the_users_own()
    {
        var target = await Host.InitializedAsync(WithHpa, beforeCanary: () => CreateHpaAsync(min: 2, max: 4));
        var ctx = await Host.Get<CanaryApi>().ResolveAsync(target, default);

        var deleted = await Host.Get<CanaryReverter>().DeleteCopiesAsync(ctx, default);

        Assert.Contains("HorizontalPodAutoscaler podinfo-primary", deleted);
        var left = (await Host.Client.AutoscalingV2.ListNamespacedHorizontalPodAutoscalerAsync(Ns)).Items.Select(h => h.Metadata.Name);
        Assert.Equal(["podinfo"], left);
    }
}

public sealed class AutoscalerOnSandbox() : AutoscalerContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class AutoscalerOnRealServer() : AutoscalerContract(KubeServer.Real);

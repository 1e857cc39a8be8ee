using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Mesh;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>A whole rollout of a Deployment with an HPA (spec.autoscalerRef), users' requests going through the sandbox mesh.</summary>
public sealed class AutoscaledRolloutTests
{
    [Fact]
    public async Task A_release_with_an_HPA_is_promoted_with_the_primary_sized_by_its_own_HPA_copy_and_the_canary_back_at_zero()
    {
        await using var world = await StrategyWorld.StartAsync("hpa-shop", new JsonObject
        {
            ["autoscalerRef"] = new JsonObject { ["name"] = "hpa-shop" },
            ["analysis"] = new JsonObject { ["stepWeight"] = 50 },
        }, client => client.AutoscalingV2.CreateNamespacedHorizontalPodAutoscalerAsync(new V2HorizontalPodAutoscaler
        {
            Metadata = new V1ObjectMeta { Name = "hpa-shop" },
            Spec = new V2HorizontalPodAutoscalerSpec
            {
                ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "hpa-shop" },
                MinReplicas = 3, MaxReplicas = 5,
            },
        }, StrategyWorld.Ns));
        var canarySizes = world.Store.Watch(ResourceKinds.Deployments, StrategyWorld.Ns, LabelSelector.Parse(null), "hpa-shop", world.Store.CurrentResourceVersion);
        await KubeTestHost.EventuallyAsync(async () => (await world.Client.AppsV1.ReadNamespacedDeploymentAsync("hpa-shop-primary", StrategyWorld.Ns)).Spec.Replicas == 3,
            "the primary's HPA copy sizes it");

        await world.ReleaseAsync("2.0");
        await world.SendUntilAsync(() => world.Finished("2.0"), users: 10, maxRounds: 3000);

        Assert.Equal(RolloutPhases.Succeeded, world.Phase());
        Assert.Equal("rel/hpa-shop:2.0", world.PrimaryImage());
        Assert.All(world.Traffic.Exchanges, e => Assert.Equal(e.Answered == Track.Canary ? "hpa-shop" : "hpa-shop-primary", e.AnsweredBy));
        Assert.Contains(world.Traffic.Exchanges, e => e.Answered == Track.Canary);
        var copy = await world.Client.AutoscalingV2.ReadNamespacedHorizontalPodAutoscalerAsync("hpa-shop-primary", StrategyWorld.Ns);
        Assert.Equal(("hpa-shop-primary", 3, 5), (copy.Spec.ScaleTargetRef.Name, copy.Spec.MinReplicas, copy.Spec.MaxReplicas));

        // The canary ran at the primary's size during the rollout, and is back at 0 (its HPA idle) afterwards.
        await KubeTestHost.EventuallyAsync(async () => (await world.Client.AppsV1.ReadNamespacedDeploymentAsync("hpa-shop", StrategyWorld.Ns)).Spec.Replicas == 0, "canary at 0");
        canarySizes.Close();
        var sizes = new List<int>();
        while (canarySizes.Events.TryRead(out var e)) sizes.Add((int?)e.Object["spec"]?["replicas"] ?? 1);
        Assert.Equal(3, sizes.Max());
        var hpa = await world.Client.AutoscalingV2.ReadNamespacedHorizontalPodAutoscalerAsync("hpa-shop", StrategyWorld.Ns);
        await KubeTestHost.EventuallyAsync(async () => (await world.Client.AutoscalingV2.ReadNamespacedHorizontalPodAutoscalerAsync("hpa-shop", StrategyWorld.Ns))
            .Status?.Conditions?.Any(c => c.Reason == "ScalingDisabled") == true, "the target's HPA is idle");
        Assert.Equal("hpa-shop", hpa.Spec.ScaleTargetRef.Name);
        var view = await world.Controller.Http.GetFromJsonAsync<RolloutStatusView>($"/api/rollouts/{StrategyWorld.Ns}/hpa-shop");
        Assert.Equal("Canary (Istio), HPA hpa-shop (primary: hpa-shop-primary)", view!.Strategy);
    }
}

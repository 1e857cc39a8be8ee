using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// Whole rollouts of the README's example on the real kube-apiserver, the controller in its own process with only
/// the chart's RBAC (a token issued for the chart's ServiceAccount), the mesh's traffic judged by a real Prometheus.
/// Every VirtualService weight the server held is recorded, so the exact sequence is checked: 10 as the user wrote
/// it, 0 on adoption, then the rollout's steps.
/// </summary>
[Collection(ChartInstalledCollection.Name)]
[Trait("Category", RealControlPlane.Category)]
public sealed class WholeRolloutOnRealServerTests(ChartInstall install)
{
    [Fact]
    public async Task HealthyRelease_IsPromotedStepByStep_UnderTheChartServiceAccount_OnRealServer()
    {
        await using var rollout = await RealRollout.StartAsync(install.Plane, install.ControllerKubeconfig, "promote");
        var stable = await rollout.WaitInitializedAsync();

        await rollout.ReleaseAsync("registry.example.com/shop/checkout-service:1.5.0");
        var status = await rollout.WaitRolloutEndedAsync(stable);

        Assert.True((string?)status["phase"] == "Succeeded", status.ToJsonString());
        Assert.Equal([10, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], rollout.Weights.Weights);
        Assert.Equal("registry.example.com/shop/checkout-service:1.5.0", await rollout.ImageOfAsync($"{RealRollout.Service}-primary"));
        Assert.DoesNotContain("Forbidden", rollout.ControllerLog);
    }

    [Fact]
    public async Task FailingRelease_IsRolledBackToStable_UnderTheChartServiceAccount_OnRealServer()
    {
        await using var rollout = await RealRollout.StartAsync(install.Plane, install.ControllerKubeconfig, "rollback");
        var stable = await rollout.WaitInitializedAsync();

        await rollout.ReleaseAsync("registry.example.com/shop/checkout-service:1.5.0-faulty"); // answers 25% of requests with 503
        var status = await rollout.WaitRolloutEndedAsync(stable);

        Assert.True((string?)status["phase"] == "Failed", status.ToJsonString());
        Assert.Equal([10, 0, 10, 0], rollout.Weights.Weights);
        Assert.Equal(RealRollout.StableImage, await rollout.ImageOfAsync($"{RealRollout.Service}-primary"));
        Assert.Equal(0, (await rollout.Admin.AppsV1.ReadNamespacedDeploymentAsync(RealRollout.Service, rollout.Namespace)).Spec.Replicas);
        Assert.DoesNotContain("Forbidden", rollout.ControllerLog);
    }
}

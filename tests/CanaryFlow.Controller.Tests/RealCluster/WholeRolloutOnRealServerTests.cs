using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using Xunit.Abstractions;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// A whole promotion of the README's example on the real kube-apiserver: the controller in its own process with only
/// the chart's RBAC (a token issued for the chart's ServiceAccount), the mesh's traffic judged by a real Prometheus.
/// Every VirtualService weight the server held is recorded, so the exact sequence is checked: 10 as the user wrote
/// it, 0 on adoption, then each of the example's steps and 0 after promotion.
/// </summary>
[Trait("Category", RealControlPlane.Category)]
public sealed class PromotionOnRealServerTests(ITestOutputHelper output) : ChartInstalledTest
{
    [Fact]
    public async Task HealthyRelease_IsPromotedStepByStep_UnderTheChartServiceAccount_OnRealServer()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var rollout = await RealRollout.StartAsync(Install.Plane, Install.ControllerKubeconfig, "promote", interval: "2s");
        var stable = await rollout.WaitInitializedAsync();
        output.WriteLine($"initialised after {clock.Elapsed.TotalSeconds:F1} s");

        await rollout.ReleaseAsync("registry.example.com/shop/checkout-service:1.5.0");
        var status = await rollout.WaitRolloutEndedAsync(stable);
        output.WriteLine($"promoted after {clock.Elapsed.TotalSeconds:F1} s; weights {string.Join(",", rollout.Weights.Weights)}");

        Assert.True((string?)status["phase"] == "Succeeded", status.ToJsonString());
        Assert.Equal([10, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], rollout.Weights.Weights);
        Assert.Equal("registry.example.com/shop/checkout-service:1.5.0", await rollout.ImageOfAsync($"{RealRollout.Service}-primary"));
        Assert.DoesNotContain("Forbidden", rollout.ControllerLog);
    }
}

/// <summary>
/// A whole rollback of the README's example on the real kube-apiserver, as <see cref="PromotionOnRealServerTests"/>.
/// The checks are 4 s apart here: the canary's 5xx series is born with the release, and a PromQL increase() needs two
/// samples of it in the window (Prometheus scrapes every second) to count them.
/// </summary>
[Trait("Category", RealControlPlane.Category)]
public sealed class RollbackOnRealServerTests(ITestOutputHelper output) : ChartInstalledTest
{
    [Fact]
    public async Task FailingRelease_IsRolledBackToStable_UnderTheChartServiceAccount_OnRealServer()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var rollout = await RealRollout.StartAsync(Install.Plane, Install.ControllerKubeconfig, "rollback", interval: "4s");
        var stable = await rollout.WaitInitializedAsync();
        output.WriteLine($"initialised after {clock.Elapsed.TotalSeconds:F1} s");

        await rollout.ReleaseAsync("registry.example.com/shop/checkout-service:1.5.0-faulty"); // answers 25% of requests with 503
        var status = await rollout.WaitRolloutEndedAsync(stable);
        output.WriteLine($"rolled back after {clock.Elapsed.TotalSeconds:F1} s; weights {string.Join(",", rollout.Weights.Weights)}");

        Assert.True((string?)status["phase"] == "Failed", status.ToJsonString());
        Assert.Equal([10, 0, 10, 0], rollout.Weights.Weights);
        Assert.Equal(RealRollout.StableImage, await rollout.ImageOfAsync($"{RealRollout.Service}-primary"));
        Assert.Equal(0, (await rollout.Admin.AppsV1.ReadNamespacedDeploymentAsync(RealRollout.Service, rollout.Namespace)).Spec.Replicas);
        Assert.DoesNotContain("Forbidden", rollout.ControllerLog);
    }
}

using CanaryFlow.Contracts;
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

    [Fact]
    public async Task With_a_limit_on_active_rollouts_a_release_waits_Queued_for_its_slot_then_is_promoted_step_by_step_OnRealServer()
    {
        await using var rollout = await RealRollout.StartAsync(Install.Plane, Install.ControllerKubeconfig, "queued", interval: "2s",
            settings: new Dictionary<string, string> { ["Rollouts:MaxActive"] = "1" });
        var stable = await rollout.WaitInitializedAsync();

        await rollout.ReleaseAsync("registry.example.com/shop/checkout-service:1.5.0");
        var status = await rollout.WaitRolloutEndedAsync(stable);

        Assert.True((string?)status["phase"] == "Succeeded", status.ToJsonString());
        Assert.Equal([10, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], rollout.Weights.Weights);
        // Every transition is an Event on the Canary: the preparation came out of the wait.
        var events = (await rollout.Admin.CoreV1.ListNamespacedEventAsync(rollout.Namespace)).Items
            .Where(e => e.InvolvedObject.Kind == "Canary").Select(e => $"{e.Reason}: {e.Message}").ToList();
        Assert.Contains(events, e => e.StartsWith($"{RolloutPhases.Queued}: ", StringComparison.Ordinal));
        Assert.True(events.Any(e => e.StartsWith($"{RolloutPhases.Initializing}: {RolloutPhases.Queued} -> {RolloutPhases.Initializing}", StringComparison.Ordinal)),
            string.Join("\n", events));
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

/// <summary>
/// The example's Canary deleted in the middle of a rollout on the real kube-apiserver, under the chart's ServiceAccount:
/// the rollout stops at once (at most one weight write already under way, then 0), the target gets the stable template
/// back and becomes available, the user's VirtualService stays, with all traffic on the stable route, and the primary goes.
/// </summary>
[Trait("Category", RealControlPlane.Category)]
public sealed class DeletionMidRolloutOnRealServerTests(ITestOutputHelper output) : ChartInstalledTest
{
    [Fact]
    public async Task Deleting_the_Canary_mid_rollout_stops_the_weights_and_gives_the_service_back_OnRealServer()
    {
        await using var rollout = await RealRollout.StartAsync(Install.Plane, Install.ControllerKubeconfig, "delete", interval: "2s");
        await rollout.WaitInitializedAsync();
        await rollout.ReleaseAsync("registry.example.com/shop/checkout-service:1.5.0");
        await rollout.WaitAsync("the rollout to reach 20%", () => Task.FromResult<object?>(rollout.Weights.Current >= 20 ? true : null));
        var before = rollout.Weights.Weights.Count;

        await rollout.Admin.CustomObjects.DeleteNamespacedCustomObjectAsync("canaryflow.dev", "v1alpha1", rollout.Namespace, "canaries", RealRollout.Service);
        await rollout.WaitAsync("the Canary to be gone", async () =>
        {
            try { await rollout.CanaryAsync(); return null; }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { return (object)true; }
        });
        var after = rollout.Weights.Weights.Skip(before).ToList();
        output.WriteLine($"weights {string.Join(",", rollout.Weights.Weights)}; after the DELETE {string.Join(",", after)}");

        // At most one step already under way, then 0 (the rollout stopped; the give-back sends 100% to stable), and nothing after.
        Assert.True(after is [0] or [> 0, 0], $"weights after the deletion: {string.Join(",", after)}");
        Assert.Equal(0, rollout.Weights.Current);
        Assert.NotNull(await rollout.Admin.CustomObjects.GetNamespacedCustomObjectAsync("networking.istio.io", "v1beta1", rollout.Namespace,
            "virtualservices", RealRollout.Service)); // adopted: the user's object stays
        var target = await rollout.Admin.AppsV1.ReadNamespacedDeploymentAsync(RealRollout.Service, rollout.Namespace);
        Assert.Equal(RealRollout.StableImage, target.Spec.Template.Spec.Containers[0].Image); // 1.5.0 was never promoted
        Assert.Equal(target.Spec.Replicas, target.Status.AvailableReplicas);
        // The example's DestinationRule was adopted: its stable subset now selects the track label and stays the user's,
        // so the target keeps "track: stable" for that subset to reach its pods.
        Assert.Equal("stable", target.Spec.Template.Metadata.Labels["canaryflow.dev/track"]);
        var deployments = await rollout.Admin.AppsV1.ListNamespacedDeploymentAsync(rollout.Namespace);
        Assert.DoesNotContain(deployments.Items, d => d.Metadata.Name == $"{RealRollout.Service}-primary");
        Assert.DoesNotContain("Forbidden", rollout.ControllerLog);
    }
}

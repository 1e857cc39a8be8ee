using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Autoscaling;

/// <summary>
/// The copies CanaryFlow runs beside the primary (the baseline, and a migration's hand-over copy) have pods of their own:
/// the primary's selector, and so what its HPA copy counts (its scale subresource's selector), matches none of theirs,
/// while the Service and the stable subset still send them stable's traffic. On the real server the pods themselves are
/// listed (the real ReplicaSet controller makes them; <see cref="FakeKubelet"/> makes them Ready).
/// </summary>
public abstract class CopySelectorsContract(KubeServer server) : TwoServerTest(server)
{
    private const string Track = "canaryflow.dev/track";

    private static JsonObject WithBaseline => new()
    {
        ["analysis"] = new JsonObject { ["progressDeadlineSeconds"] = 5, ["interval"] = "1s", ["comparison"] = new JsonObject { ["useBaseline"] = true } },
    };

    private static bool Selects(IDictionary<string, string> selector, IDictionary<string, string>? labels) =>
        labels is not null && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    private Task<V1Deployment> ReadAsync(string name) => Host.Client.AppsV1.ReadNamespacedDeploymentAsync(name, Ns);

    [Fact]
    public async Task The_primarys_selector_counts_none_of_the_baselines_pods_which_still_take_stable_traffic_under_their_own_workload_name()
    {
        var target = await Host.InitializedAsync(WithBaseline);
        await Host.SetImageAsync("podinfo", "podinfo:2");
        Assert.True((await Host.Get<IWorkloadController>().PrepareCanaryAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);

        var primary = await ReadAsync("podinfo-primary");
        var baseline = await ReadAsync("podinfo-baseline");
        var baselinePods = baseline.Spec.Template.Metadata.Labels;
        Assert.False(Selects(primary.Spec.Selector.MatchLabels, baselinePods));
        Assert.False(Selects(baseline.Spec.Selector.MatchLabels, primary.Spec.Template.Metadata.Labels));
        Assert.Equal("podinfo-baseline", baselinePods["app"]);
        // Routed as before: the Service selects it and the stable subset (by the track) sends it stable's share.
        var service = (await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns)).Spec.Selector;
        Assert.True(Selects(service, baselinePods));
        Assert.Equal("stable", baselinePods[Track]);
        // Measured as before: Istio reports it as the workload the analysis asks for (the Deployment's name), running stable.
        Assert.Equal("podinfo:1", baseline.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(baseline.Spec.Replicas, baseline.Status.AvailableReplicas);

        await AssertEachPodCountedByItsOwnDeploymentOnlyAsync(["podinfo-primary", "podinfo-baseline", "podinfo"]);
        if (Host.Server == KubeServer.Real)
        {
            var stable = await PodsAsync($"canaryflow.dev/target=podinfo,{Track}=stable");
            Assert.Contains(stable, p => Owner(p).StartsWith("podinfo-baseline-", StringComparison.Ordinal));
            Assert.Contains(stable, p => Owner(p).StartsWith("podinfo-primary-", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_baseline_of_an_earlier_version_whose_pods_the_primary_counted_is_made_anew_under_labels_of_its_own()
    {
        var target = await Host.InitializedAsync(WithBaseline);
        // What the earlier version left between two rollouts: the primary's labels plus one, at 0 replicas.
        var primary = await ReadAsync("podinfo-primary");
        var old = Deployments.Copy(primary, "podinfo-baseline", Deployments.Revision(primary),
            new Dictionary<string, string>(primary.Spec.Selector.MatchLabels) { [PrimaryLabels.BaselineLabel] = "true" },
            PodTemplates.Copy(primary.Spec.Template, [KeyValuePair.Create(PrimaryLabels.BaselineLabel, (string?)"true")]));
        old.Spec.Replicas = 0;
        await Host.Client.AppsV1.CreateNamespacedDeploymentAsync(old, Ns);

        await Host.SetImageAsync("podinfo", "podinfo:2");
        Assert.True((await Host.Get<IWorkloadController>().PrepareCanaryAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);

        var baseline = await ReadAsync("podinfo-baseline");
        Assert.Equal("podinfo-baseline", baseline.Spec.Selector.MatchLabels["app"]);
        Assert.False(Selects(primary.Spec.Selector.MatchLabels, baseline.Spec.Template.Metadata.Labels));
        await AssertEachPodCountedByItsOwnDeploymentOnlyAsync(["podinfo-primary", "podinfo-baseline", "podinfo"]);
    }

    [Fact]
    public async Task Each_reconcile_of_a_migration_takes_one_step_and_answers_requeue_instead_of_waiting_and_no_pod_is_counted_by_two_copies()
    {
        await CreateEarlierVersionsPrimaryAsync();
        await Host.CreateCanaryAsync("podinfo", "podinfo");
        var ctx = await Host.Get<CanaryApi>().ResolveAsync(new CanaryFlow.Contracts.RolloutTarget(Ns, "podinfo"), default);
        var initializer = Host.Get<CanaryInitializer>();

        // The hand-over copy's pods never become Ready: a reconcile that waited would answer a failure after the
        // deadline; this one answers at once that the step is under way, and again at every reconcile.
        Host.FailReady("podinfo-primary-handover");
        var first = await initializer.EnsureAsync(ctx, firstSight: true, default);
        Assert.True(first is { Requeue: true }, first?.Message);
        Assert.Contains("hand-over copy podinfo-primary-handover is starting", first!.Message);
        await KubeTestHost.EventuallyAsync(async () => (await ReadAsync("podinfo-primary-handover")).Status?.ObservedGeneration is not null, "the hand-over copy is seen");
        var waiting = await initializer.EnsureAsync(ctx, firstSight: true, default);
        Assert.True(waiting is { Requeue: true }, waiting?.Message);
        Assert.Contains("waiting for podinfo-primary-handover", waiting!.Message);
        Assert.Equal("podinfo", (await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns)).Spec.Selector["app"]); // nothing moved yet
        await AssertEachPodCountedByItsOwnDeploymentOnlyAsync(["podinfo-primary-handover"]);

        Host.FailReady("podinfo-primary-handover", fail: false);
        var steps = new List<string>();
        for (var reconcile = 0; ; reconcile++)
        {
            var result = await initializer.EnsureAsync(ctx, firstSight: true, default);
            if (result is null) break;
            Assert.True(result.Requeue, result.Message); // a step under way, never a failure
            if (steps.LastOrDefault() != result.Message) steps.Add(result.Message);
            // The target's selector counts the old primary's pods (that is what is migrated); no copy's counts another's.
            await AssertEachPodCountedByItsOwnDeploymentOnlyAsync(["podinfo-primary-handover", "podinfo-primary"]);
            Assert.True(reconcile < 1200, "the migration did not finish: " + string.Join(" | ", steps));
            await Task.Delay(50);
        }

        Assert.Contains(steps, s => s.Contains("the old primary is being deleted"));
        Assert.Contains(steps, s => s.Contains("the new primary is starting"));
        Assert.Equal("podinfo-primary", (await ReadAsync("podinfo-primary")).Spec.Selector.MatchLabels["app"]);
        Assert.DoesNotContain((await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items, d => d.Metadata.Name == "podinfo-primary-handover");
        await AssertEachPodCountedByItsOwnDeploymentOnlyAsync(["podinfo-primary"]);
    }

    /// <summary>What an earlier CanaryFlow left: podinfo-primary selecting app=podinfo + stable, the Service selecting
    /// app=podinfo, the target at 0 replicas.</summary>
    private async Task CreateEarlierVersionsPrimaryAsync()
    {
        await Host.CreateDeploymentAsync("podinfo", "podinfo:1");
        var target = await ReadAsync("podinfo");
        await Host.Client.AppsV1.CreateNamespacedDeploymentAsync(Deployments.Copy(target, "podinfo-primary", await Host.RevisionAsync("podinfo"),
            new Dictionary<string, string> { ["app"] = "podinfo", [Track] = "stable" },
            PodTemplates.Copy(target.Spec.Template, [KeyValuePair.Create(Track, (string?)"stable")])), Ns);
        await Host.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "podinfo" },
            Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "podinfo" }, Ports = [new V1ServicePort { Port = 8080 }] },
        }, Ns);
        await KubeTestHost.EventuallyAsync(async () => DeploymentWaiter.NotAvailableReason(await ReadAsync("podinfo-primary")) is null, "the old primary is available");
        await Host.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("{\"spec\":{\"replicas\":0}}", V1Patch.PatchType.MergePatch), "podinfo", Ns);
    }

    /// <summary>
    /// The selector of each named Deployment (where it exists) matches no other Deployment's pod template, and on the real
    /// server the pods it lists (what an HPA of it counts: its scale subresource's selector) are all its own.
    /// </summary>
    private async Task AssertEachPodCountedByItsOwnDeploymentOnlyAsync(string[] names)
    {
        var all = (await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items.Where(d => d.Metadata.DeletionTimestamp is null).ToList();
        foreach (var d in all.Where(d => names.Contains(d.Metadata.Name)))
        {
            foreach (var other in all.Where(o => o.Metadata.Name != d.Metadata.Name))
                Assert.False(Selects(d.Spec.Selector.MatchLabels, other.Spec.Template.Metadata.Labels), $"{d.Metadata.Name}'s selector matches {other.Metadata.Name}'s pods");
            if (Host.Server != KubeServer.Real) continue;
            var scale = await Host.Client.AppsV1.ReadNamespacedDeploymentScaleAsync(d.Metadata.Name, Ns);
            foreach (var pod in await PodsAsync(scale.Status.Selector))
                Assert.True(Owner(pod) == $"{d.Metadata.Name}-{pod.Metadata.Labels["pod-template-hash"]}", $"{d.Metadata.Name}'s selector counts pod {pod.Metadata.Name} of {Owner(pod)}");
        }
    }

    private async Task<List<V1Pod>> PodsAsync(string selector) =>
        (await Host.Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: selector)).Items.Where(p => p.Metadata.DeletionTimestamp is null).ToList();

    private static string Owner(V1Pod pod) => pod.Metadata.OwnerReferences?.FirstOrDefault(o => o.Kind == "ReplicaSet")?.Name ?? "";
}

public sealed class CopySelectorsOnSandbox() : CopySelectorsContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class CopySelectorsOnRealServer() : CopySelectorsContract(KubeServer.Real);

/// <summary>The labels of each copy, without a server: what a selector of one matches of another's pods.</summary>
public sealed class PodCopyLabelsTests
{
    private static V1Deployment Target(string app) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web" },
        Spec = new V1DeploymentSpec
        {
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = app, ["tier"] = "front" } },
            Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = app, ["tier"] = "front", ["team"] = "a" } } },
        },
    };

    [Fact]
    public void No_copys_selector_matches_another_copys_pods_or_the_targets_and_long_values_stay_within_63_characters()
    {
        foreach (var app in new[] { "web", new string('w', 63) })
        {
            var target = Target(app);
            var copies = Enum.GetValues<PodCopy>();
            // Each copy made from the template of any other (as the baseline from the primary, a new primary from the hand-over).
            foreach (var copy in copies)
                foreach (var from in copies)
                {
                    var template = PrimaryLabels.Template(PrimaryLabels.Template(target.Spec.Template, target, "track", from), target, "track", copy);
                    Assert.Equal(PrimaryLabels.Selector(target, "track", copy).OrderBy(l => l.Key),
                        template.Metadata.Labels.Where(l => l.Key != "team").OrderBy(l => l.Key));
                    Assert.All(template.Metadata.Labels.Values, v => Assert.True(v.Length <= 63, v));
                    Assert.Equal("a", template.Metadata.Labels["team"]); // the user's other labels stay
                    foreach (var other in copies.Where(o => o != copy))
                        Assert.False(PrimaryLabels.Selector(target, "track", other).All(l => template.Metadata.Labels.TryGetValue(l.Key, out var v) && v == l.Value),
                            $"{other}'s selector matches {copy}'s pods");
                    Assert.False(target.Spec.Selector.MatchLabels.All(l => template.Metadata.Labels[l.Key] == l.Value), $"the target's selector matches {copy}'s pods");
                }
        }
    }
}

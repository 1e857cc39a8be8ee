using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Autoscaling;

/// <summary>
/// The primary's pods are outside the target's selector (and so outside what the target's HPA counts), the service's
/// Service reaches both sides, and a primary made by an earlier version, whose pods the target's selector matched, is
/// replaced under the new labels with stable pods behind the Service at every moment. The copies beside the primary (the
/// baseline, a migration's hand-over copy) have pods of their own: the primary's selector, and so what its HPA copy counts
/// (its scale subresource's selector), matches none of theirs, while the Service and the stable subset still send them
/// stable's traffic. On the real server the pods themselves are listed (the real ReplicaSet controller makes them;
/// <see cref="FakeKubelet"/> makes them Ready).
/// </summary>
public abstract class PrimaryLabelsContract(KubeServer server) : TwoServerTest(server)
{
    private const string Track = EarlierVersion.Track;

    private static bool Selects(IDictionary<string, string> selector, IDictionary<string, string>? labels) => EarlierVersion.Selects(selector, labels);

    private static string? Label(IDictionary<string, string>? labels, string key) => labels is not null && labels.TryGetValue(key, out var v) ? v : null;

    private Task<V1Deployment> ReadAsync(string name) => Host.Client.AppsV1.ReadNamespacedDeploymentAsync(name, Ns);

    private static JsonObject WithBaseline => new()
    {
        ["analysis"] = new JsonObject { ["progressDeadlineSeconds"] = 5, ["interval"] = "1s", ["comparison"] = new JsonObject { ["useBaseline"] = true } },
    };

    [Fact]
    public async Task The_targets_selector_and_its_HPAs_selector_match_none_of_the_primarys_pods_and_the_Service_selects_both_sides()
    {
        var target = await Host.InitializedAsync();
        await Host.SetImageAsync("podinfo", "podinfo:2");
        Assert.True((await Host.Get<IWorkloadController>().PrepareUntilDoneAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);

        var canary = await ReadAsync("podinfo");
        var primary = await ReadAsync("podinfo-primary");
        var primaryPods = primary.Spec.Template.Metadata.Labels;
        Assert.Equal("podinfo-primary", primaryPods["app"]);
        Assert.False(Selects(canary.Spec.Selector.MatchLabels, primaryPods));
        // What an HPA on the target counts: the pods its scale subresource's selector matches.
        var scale = await Host.Client.AppsV1.ReadNamespacedDeploymentScaleAsync("podinfo", Ns);
        Assert.Equal("app=podinfo", scale.Status.Selector);
        var service = (await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns)).Spec.Selector;
        Assert.True(Selects(service, primaryPods));
        Assert.True(Selects(service, canary.Spec.Template.Metadata.Labels));

        if (Host.Server == KubeServer.Real)
        {
            // The real server has the pods: the target's selector lists only the canary's.
            var pods = (await Host.Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: scale.Status.Selector)).Items;
            Assert.Equal(2, pods.Count(p => p.Metadata.DeletionTimestamp is null));
            Assert.All(pods, p => Assert.Equal("canary", p.Metadata.Labels[Track]));
            var both = (await Host.Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: "canaryflow.dev/target=podinfo")).Items;
            Assert.Contains(both, p => p.Metadata.Labels[Track] == "stable");
        }
    }

    [Fact]
    public async Task A_primary_of_an_earlier_version_moves_to_the_new_labels_with_stable_pods_behind_the_Service_throughout()
    {
        await EarlierVersion.CreatePrimaryAsync(Host);

        using var stop = new CancellationTokenSource();
        var watching = LeastStableAvailableAsync(stop.Token);
        await Host.CreateCanaryAsync("podinfo", "podinfo");
        await Host.StartWatcherAsync();
        await KubeTestHost.EventuallyAsync(async () =>
            await Host.Get<Deployments>().TryReadAsync(Ns, "podinfo-primary", default) is { } p && Label(p.Spec.Selector.MatchLabels, "app") == "podinfo-primary"
            && DeploymentWaiter.NotAvailableReason(p) is null
            && (await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items.All(d => d.Metadata.Name != "podinfo-primary-handover"),
            "the primary is replaced and the hand-over copy gone", 60);
        await stop.CancelAsync();
        var (least, samples) = await watching;

        var primary = await ReadAsync("podinfo-primary");
        Assert.Equal("old-primary", primary.Spec.Template.Metadata.Annotations["example.com/mark"]);
        Assert.Equal("podinfo-primary", primary.Spec.Template.Metadata.Labels["app"]);
        Assert.Equal(new Dictionary<string, string> { ["canaryflow.dev/target"] = "podinfo" }, (await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns)).Spec.Selector);
        Assert.True(samples > 2, $"only {samples} samples");
        Assert.True(least > 0, "a moment without available stable pods behind the Service");
    }

    /// <summary>Samples, until cancelled, the available replicas of the stable Deployments whose pods the Service selects.</summary>
    private async Task<(int Least, int Samples)> LeastStableAvailableAsync(CancellationToken ct)
    {
        var (least, samples) = (int.MaxValue, 0);
        while (!ct.IsCancellationRequested)
        {
            // The Service is read between two lists of the Deployments: its selector held at some moment between them, so a
            // real gap shows as 0 in both, while a change between two reads (not a gap) leaves one of them above 0.
            var before = (await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items;
            var selector = (await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns)).Spec.Selector;
            var after = (await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items;
            int Available(IEnumerable<V1Deployment> ds) => ds
                .Where(d => d.Metadata.DeletionTimestamp is null && Selects(selector, d.Spec.Template.Metadata.Labels)
                            && Label(d.Spec.Template.Metadata.Labels, Track) == "stable")
                .Sum(d => d.Status?.AvailableReplicas ?? 0);
            var available = Math.Max(Available(before), Available(after));
            (least, samples) = (Math.Min(least, available), samples + 1);
            try { await Task.Delay(5, ct); } catch (OperationCanceledException) { }
        }
        return (least, samples);
    }


    [Fact]
    public async Task The_primarys_selector_counts_none_of_the_baselines_pods_which_still_take_stable_traffic_under_their_own_workload_name()
    {
        var target = await Host.InitializedAsync(WithBaseline);
        await Host.SetImageAsync("podinfo", "podinfo:2");
        Assert.True((await Host.Get<IWorkloadController>().PrepareUntilDoneAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);

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
        Assert.True((await Host.Get<IWorkloadController>().PrepareUntilDoneAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);

        var baseline = await ReadAsync("podinfo-baseline");
        Assert.Equal("podinfo-baseline", baseline.Spec.Selector.MatchLabels["app"]);
        Assert.False(Selects(primary.Spec.Selector.MatchLabels, baseline.Spec.Template.Metadata.Labels));
        await AssertEachPodCountedByItsOwnDeploymentOnlyAsync(["podinfo-primary", "podinfo-baseline", "podinfo"]);
    }

    [Fact]
    public async Task Each_reconcile_of_a_migration_takes_one_step_and_answers_requeue_instead_of_waiting_and_no_pod_is_counted_by_two_copies()
    {
        await EarlierVersion.CreatePrimaryAsync(Host);
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

public sealed class PrimaryLabelsOnSandbox() : PrimaryLabelsContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class PrimaryLabelsOnRealServer() : PrimaryLabelsContract(KubeServer.Real);

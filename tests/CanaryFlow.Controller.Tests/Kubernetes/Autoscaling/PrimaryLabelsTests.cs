using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Autoscaling;

/// <summary>
/// The primary's pods are outside the target's selector (and so outside what the target's HPA counts), the service's
/// Service reaches both sides, and a primary made by an earlier version, whose pods the target's selector matched, is
/// replaced under the new labels with stable pods behind the Service at every moment.
/// </summary>
public abstract class PrimaryLabelsContract(KubeServer server) : TwoServerTest(server)
{
    private const string Track = "canaryflow.dev/track";

    private static bool Selects(IDictionary<string, string> selector, IDictionary<string, string>? labels) =>
        labels is not null && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    private static string? Label(IDictionary<string, string>? labels, string key) => labels is not null && labels.TryGetValue(key, out var v) ? v : null;

    private Task<V1Deployment> ReadAsync(string name) => Host.Client.AppsV1.ReadNamespacedDeploymentAsync(name, Ns);

    [Fact]
    public async Task The_targets_selector_and_its_HPAs_selector_match_none_of_the_primarys_pods_and_the_Service_selects_both_sides()
    {
        var target = await Host.InitializedAsync();
        await Host.SetImageAsync("podinfo", "podinfo:2");
        Assert.True((await Host.Get<IWorkloadController>().PrepareCanaryAsync(target, await Host.RevisionAsync("podinfo"), default)).Succeeded);

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
        // What an earlier CanaryFlow left: podinfo-primary selecting app=podinfo + stable, the Service selecting app=podinfo,
        // the target labelled canary at 0 replicas. The primary's template carries a mark the target's has not, so the
        // test can tell that the stable version (not the target's template) is what serves after the move.
        await Host.CreateDeploymentAsync("podinfo", "podinfo:1");
        var target = await ReadAsync("podinfo");
        var old = Deployments.Copy(target, "podinfo-primary", await Host.RevisionAsync("podinfo"),
            new Dictionary<string, string> { ["app"] = "podinfo", [Track] = "stable" }, Relabelled(target.Spec.Template));
        await Host.Client.AppsV1.CreateNamespacedDeploymentAsync(old, Ns);
        await Host.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "podinfo" },
            Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "podinfo" }, Ports = [new V1ServicePort { Port = 8080 }] },
        }, Ns);
        await KubeTestHost.EventuallyAsync(async () => DeploymentWaiter.NotAvailableReason(await ReadAsync("podinfo-primary")) is null, "the old primary is available");
        await Host.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(
            "{\"spec\":{\"replicas\":0,\"template\":{\"metadata\":{\"labels\":{\"" + Track + "\":\"canary\"}}}}}", V1Patch.PatchType.MergePatch), "podinfo", Ns);

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

    private static V1PodTemplateSpec Relabelled(V1PodTemplateSpec template)
    {
        var copy = PodTemplates.Copy(template, [KeyValuePair.Create(Track, (string?)"stable")]);
        copy.Metadata.Annotations = new Dictionary<string, string> { ["example.com/mark"] = "old-primary" };
        return copy;
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
}

public sealed class PrimaryLabelsOnSandbox() : PrimaryLabelsContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class PrimaryLabelsOnRealServer() : PrimaryLabelsContract(KubeServer.Real);

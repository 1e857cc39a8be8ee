using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Autoscaling;

/// <summary>What the label tests share: a selector match, and the objects an earlier CanaryFlow left behind.</summary>
public static class EarlierVersion
{
    public const string Track = "canaryflow.dev/track";

    /// <summary>True when <paramref name="selector"/> (matchLabels) matches pods carrying <paramref name="labels"/>.</summary>
    public static bool Selects(IDictionary<string, string> selector, IDictionary<string, string>? labels) =>
        labels is not null && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    /// <summary>What a CanaryFlow before the primary labels left: podinfo-primary (available) selecting app=podinfo +
    /// stable, the Service selecting app=podinfo, the target labelled canary at 0 replicas. The primary's template carries
    /// a mark the target's has not (annotation example.com/mark: old-primary), so a test can tell that the stable version,
    /// not the target's template, is what serves after the move.</summary>
    public static async Task CreatePrimaryAsync(KubeTestHost host)
    {
        var ns = host.Namespace;
        await host.CreateDeploymentAsync("podinfo", "podinfo:1");
        var target = await host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo", ns);
        var template = PodTemplates.Copy(target.Spec.Template, [KeyValuePair.Create(Track, (string?)"stable")]);
        template.Metadata.Annotations = new Dictionary<string, string> { ["example.com/mark"] = "old-primary" };
        await host.Client.AppsV1.CreateNamespacedDeploymentAsync(Deployments.Copy(target, "podinfo-primary", await host.RevisionAsync("podinfo"),
            new Dictionary<string, string> { ["app"] = "podinfo", [Track] = "stable" }, template), ns);
        await host.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "podinfo" },
            Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "podinfo" }, Ports = [new V1ServicePort { Port = 8080 }] },
        }, ns);
        await KubeTestHost.EventuallyAsync(async () =>
            DeploymentWaiter.NotAvailableReason(await host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-primary", ns)) is null, "the old primary is available");
        await host.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(
            "{\"spec\":{\"replicas\":0,\"template\":{\"metadata\":{\"labels\":{\"" + Track + "\":\"canary\"}}}}}", V1Patch.PatchType.MergePatch), "podinfo", ns);
    }
}

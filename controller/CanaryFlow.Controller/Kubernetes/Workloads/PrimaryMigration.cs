using System.Net;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// Moves a primary made by an earlier CanaryFlow (its pods carry the target's selector labels, so the target's
/// selector and HPA count them) to the primary labels (<see cref="PrimaryLabels"/>) without a moment with no stable pods.
/// A Deployment's selector cannot be changed, so the primary is replaced, with a hand-over copy bridging the gap:
/// <list type="number">
/// <item><c>&lt;name&gt;-primary-handover</c>: the old primary's template and size under the new labels; wait until available;</item>
/// <item>the Service selects by the target label: the hand-over's pods serve the stable subset, the old primary's drop out;</item>
/// <item>the old primary is deleted and a new one created from the hand-over's template; wait until available;</item>
/// <item>the hand-over copy is deleted.</item>
/// </list>
/// Each step looks at what exists first, so a crash at any point resumes where it stopped (a new leader included).
/// </summary>
public sealed class PrimaryMigration(IKubernetes client, Deployments deployments, DeploymentWaiter waiter, RoutingObjects routing,
    ILogger<PrimaryMigration> logger)
{
    private const string HandoverLabel = "canaryflow.dev/handover";

    public static string HandoverName(string primaryName) => primaryName + "-handover";

    /// <returns>Null when there is nothing (more) to migrate; otherwise why the migration cannot go on now.</returns>
    public async Task<string?> RunAsync(CanaryContext ctx, V1Deployment target, CancellationToken ct)
    {
        var ns = ctx.Target.Namespace;
        var handoverName = HandoverName(ctx.PrimaryName);
        var primary = await deployments.TryReadAsync(ns, ctx.PrimaryName, ct);
        var handover = await deployments.TryReadAsync(ns, handoverName, ct);
        var overlaps = primary is not null && PrimaryLabels.Overlaps(target, primary);
        if (handover is null && !overlaps) return null; // the usual case: nothing to migrate

        if (overlaps)
        {
            if (handover is null)
            {
                logger.LogInformation("{Target}: moving {Primary} to the primary labels (its pods match the target's selector)", ctx.Target, ctx.PrimaryName);
                var template = PrimaryLabels.Relabel(primary!.Spec.Template, target, ctx.TrackLabel);
                template.Metadata.Labels[HandoverLabel] = "true";
                var copy = Deployments.Copy(primary, handoverName, Revision(primary),
                    new Dictionary<string, string>(PrimaryLabels.Selector(target, ctx.TrackLabel)) { [HandoverLabel] = "true" }, template);
                copy.Spec.Replicas = primary.Spec.Replicas ?? 1;
                await CreateAsync(copy, ns, ct);
            }
            if (await waiter.WaitAvailableAsync(ns, handoverName, ctx.ProgressDeadline, ct) is { } notAvailable)
                return $"moving {ctx.PrimaryName} to new labels: the hand-over copy is not available: {notAvailable}";
            await routing.EnsureServiceSelectorsAsync(ctx, ct);
            try { await client.AppsV1.DeleteNamespacedDeploymentAsync(ctx.PrimaryName, ns, cancellationToken: ct); }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
            primary = null;
            handover = await deployments.ReadAsync(ns, handoverName, ct);
        }

        if (primary is null)
        {
            var template = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(handover!.Spec.Template));
            template.Metadata.Labels.Remove(HandoverLabel);
            var selector = new Dictionary<string, string>(handover.Spec.Selector.MatchLabels);
            selector.Remove(HandoverLabel);
            var fresh = Deployments.Copy(handover, ctx.PrimaryName, Revision(handover), selector, template);
            fresh.Spec.Replicas = handover.Spec.Replicas ?? 1;
            await CreateAsync(fresh, ns, ct);
            // The old one may still be there for a moment (its deletion is under way): the next reconcile goes on.
            if (await deployments.TryReadAsync(ns, ctx.PrimaryName, ct) is { } still && PrimaryLabels.Overlaps(target, still))
                return $"moving {ctx.PrimaryName} to new labels: waiting for the old primary to be deleted";
        }
        if (await waiter.WaitAvailableAsync(ns, ctx.PrimaryName, ctx.ProgressDeadline, ct) is { } primaryNotAvailable)
            return $"moving {ctx.PrimaryName} to new labels: the new primary is not available: {primaryNotAvailable}";
        try { await client.AppsV1.DeleteNamespacedDeploymentAsync(handoverName, ns, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
        logger.LogInformation("{Target}: {Primary} runs under the primary labels; hand-over copy deleted", ctx.Target, ctx.PrimaryName);
        return null;
    }

    private static string Revision(V1Deployment d) =>
        d.Metadata.Annotations is { } a && a.TryGetValue(Deployments.RevisionAnnotation, out var r) ? r : "";

    private async Task CreateAsync(V1Deployment deployment, string ns, CancellationToken ct)
    {
        try { await client.AppsV1.CreateNamespacedDeploymentAsync(deployment, ns, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { }
    }
}

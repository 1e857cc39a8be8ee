using System.Net;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Seams;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// <see cref="IWorkloadController"/> the Flagger way: the target Deployment is the canary, <c>&lt;name&gt;-primary</c>
/// the stable copy. Missing objects and wrong revisions are reported as failed results; API outages (after
/// the resilience pipeline's retries) surface as exceptions so the caller can try again.
/// </summary>
public sealed class KubernetesWorkloadController(IKubernetes client, CanaryApi api, Deployments deployments, CanaryInitializer initializer,
    DeploymentWaiter waiter, PrimaryAutoscaler autoscaler, ILogger<KubernetesWorkloadController> logger) : IWorkloadController
{
    public async Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken)
    {
        CanaryContext ctx;
        try { ctx = await api.ResolveAsync(target, cancellationToken); }
        catch (CanaryNotFoundException e) { return WorkloadResult.Failed(e.Message); }
        // A preparation waits by its contract (for the canary, below): a step of work under way (a primary's migration
        // at an upgrade) is reconciled again until done. Two deadlines: the hand-over copy, then the new primary.
        if (await waiter.ReconcileAsync(() => initializer.EnsureAsync(ctx, firstSight: false, cancellationToken), 2 * ctx.ProgressDeadline, cancellationToken)
            is { } missing) return WorkloadResult.Failed(missing.Message);

        var canary = await deployments.ReadAsync(target.Namespace, target.Name, cancellationToken);
        if (RevisionMismatch(canary.Spec.Template, ctx, revision) is { } mismatch) return WorkloadResult.Failed(mismatch);
        var primary = await deployments.ReadAsync(target.Namespace, ctx.PrimaryName, cancellationToken);
        var replicas = Math.Max(1, primary.Spec.Replicas ?? 1);
        if (canary.Spec.Replicas != replicas) await deployments.ScaleAsync(target.Namespace, target.Name, replicas, cancellationToken);
        if (ctx.Canary.Spec?.Analysis?.Comparison?.UseBaseline == true) await EnsureBaselineAsync(ctx, canary, primary, replicas, cancellationToken);

        var notAvailable = await waiter.WaitAvailableAsync(target.Namespace, target.Name, ctx.ProgressDeadline, cancellationToken);
        if (notAvailable is not null) return WorkloadResult.Failed($"canary not ready: {notAvailable}");
        if (ctx.Canary.Spec?.Analysis?.Comparison?.UseBaseline != true) return WorkloadResult.Ok;
        notAvailable = await waiter.WaitAvailableAsync(target.Namespace, WorkloadNames.Baseline(target), ctx.ProgressDeadline, cancellationToken);
        return notAvailable is null ? WorkloadResult.Ok : WorkloadResult.Failed($"baseline not ready: {notAvailable}");
    }

    /// <summary>
    /// A fresh copy of the stable version, the canary's size, so the comparison sets new pods against new
    /// pods (Kayenta's baseline) rather than against long-running stable ones. Its pods carry the stable
    /// track label, so they take their share of the stable subset's traffic, and Istio reports them under
    /// their own workload name; labels of their own (<see cref="PodCopy.Baseline"/>) keep them out of the primary's
    /// selector, and so out of what the primary's HPA counts.
    /// </summary>
    private async Task EnsureBaselineAsync(CanaryContext ctx, V1Deployment target, V1Deployment primary, int replicas, CancellationToken ct)
    {
        var ns = ctx.Target.Namespace;
        var name = WorkloadNames.Baseline(ctx.Target);
        var wanted = Deployments.CopyOf(primary, target, name, Deployments.Revision(primary), ctx.TrackLabel, PodCopy.Baseline, replicas);
        var existing = await deployments.TryReadAsync(ns, name, ct);
        if (existing is not null && !Deployments.SameSelector(existing, wanted))
        {
            // An earlier version's baseline selects the primary's labels, and a selector cannot change: it is made anew
            // (it serves only while a rollout runs, and the rollout is only being prepared).
            logger.LogInformation("{Target}: {Baseline} is made anew under labels of its own", ctx.Target, name);
            await deployments.DeleteAsync(ns, name, ct);
            existing = null;
        }
        if (existing is null) { await deployments.CreateAsync(ns, wanted, ct); return; }
        // Stable may have moved on since the last rollout: the baseline follows it (409 means try again later).
        existing.Spec.Template = wanted.Spec.Template;
        existing.Spec.Replicas = replicas;
        await client.AppsV1.ReplaceNamespacedDeploymentAsync(existing, name, ns, cancellationToken: ct);
    }

    public async Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken)
    {
        CanaryContext ctx;
        try { ctx = await api.ResolveAsync(target, cancellationToken); }
        catch (CanaryNotFoundException e) { return WorkloadResult.Failed(e.Message); }
        var canary = await deployments.ReadAsync(target.Namespace, target.Name, cancellationToken);
        if (RevisionMismatch(canary.Spec.Template, ctx, revision) is { } mismatch) return WorkloadResult.Failed(mismatch);

        for (var attempt = 1; ; attempt++)
        {
            var primary = await deployments.ReadAsync(target.Namespace, ctx.PrimaryName, cancellationToken);
            // A primary of an earlier version (not migrated yet, say mid-rollout at the upgrade) keeps its own selector's labels.
            primary.Spec.Template = PrimaryLabels.Overlaps(canary, primary)
                ? PodTemplates.Copy(canary.Spec.Template, [KeyValuePair.Create(ctx.TrackLabel, (string?)"stable")])
                : PrimaryLabels.Template(canary.Spec.Template, canary, ctx.TrackLabel);
            primary.Metadata.Annotations ??= new Dictionary<string, string>();
            primary.Metadata.Annotations[Deployments.RevisionAnnotation] = revision;
            try
            {
                // Replace carries the resourceVersion read: a concurrent change answers 409 and is re-read.
                await client.AppsV1.ReplaceNamespacedDeploymentAsync(primary, ctx.PrimaryName, target.Namespace, cancellationToken: cancellationToken);
                break;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < 5)
            {
                logger.LogInformation("{Target}: stable Deployment changed while promoting; re-reading", target);
            }
        }

        // As Flagger: the primary's HPA takes what the target's HPA says now (a release may change min/max or metrics),
        // at promotion, not before: until then the stable version keeps the settings it was proven with.
        await autoscaler.EnsureAsync(ctx, update: true, cancellationToken);
        var notAvailable = await waiter.WaitAvailableAsync(target.Namespace, ctx.PrimaryName, ctx.ProgressDeadline, cancellationToken);
        if (notAvailable is null) return WorkloadResult.Ok;
        logger.LogWarning("{Target}: promotion failed, stable not available: {Reason}", target, notAvailable);
        return WorkloadResult.Failed($"stable not available after promotion: {notAvailable}");
    }

    /// <summary>Scales the canary, and the baseline where there is one, to zero.</summary>
    public async Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken)
    {
        // A Canary being deleted (or gone) gives the target back to its user at the primary's size: never to zero.
        try { if ((await api.FindForTargetAsync(target, cancellationToken)).IsDeleting) return; }
        catch (CanaryNotFoundException) { return; }
        var canary = await deployments.ReadAsync(target.Namespace, target.Name, cancellationToken);
        if (canary.Spec.Replicas != 0) await deployments.ScaleAsync(target.Namespace, target.Name, 0, cancellationToken);
        var baseline = await deployments.TryReadAsync(target.Namespace, WorkloadNames.Baseline(target), cancellationToken);
        if (baseline is { Spec.Replicas: not 0 }) await deployments.ScaleAsync(target.Namespace, baseline.Metadata.Name, 0, cancellationToken);
    }

    private static string? RevisionMismatch(V1PodTemplateSpec template, CanaryContext ctx, string revision)
    {
        var actual = PodTemplateHash.Compute(template, ctx.TrackLabel);
        return actual == revision ? null : $"canary {ctx.Target} runs revision {actual}, not {revision} (superseded?)";
    }
}

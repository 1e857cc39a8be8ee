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
    PrimaryAutoscaler autoscaler, ILogger<KubernetesWorkloadController> logger) : IWorkloadController
{
    public async Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken)
    {
        CanaryContext ctx;
        try { ctx = await api.ResolveAsync(target, cancellationToken); }
        catch (CanaryNotFoundException e) { return WorkloadResult.Failed(e.Message); }
        // Never waits (the caller asks again while the answer is "not yet"): a step of work under way (a primary's migration
        // at an upgrade) is taken again at the next call. It may take two deadlines: the hand-over copy, then the new primary.
        switch (await initializer.EnsureAsync(ctx, firstSight: false, cancellationToken))
        {
            case { Requeue: true } step: return WorkloadResult.NotYet(step.Message, 2 * ctx.ProgressDeadline);
            case { } missing: return WorkloadResult.Failed(missing.Message);
        }

        var ns = target.Namespace;
        var canary = await deployments.ReadAsync(ns, target.Name, cancellationToken);
        if (RevisionMismatch(canary.Spec.Template, ctx, revision) is { } mismatch) return WorkloadResult.Failed(mismatch);
        var primary = await deployments.ReadAsync(ns, ctx.PrimaryName, cancellationToken);
        var replicas = Math.Max(1, primary.Spec.Replicas ?? 1);
        // A canary at rest has no replicas: it starts at the primary's size. Once started, its size is its own HPA's to change
        // (asked again while it rolls out, this must not scale it back; issue 15).
        var scaled = canary.Spec.Replicas == 0;
        if (scaled) await deployments.ScaleAsync(ns, target.Name, replicas, cancellationToken);
        string? baselineNotAvailable = null;
        if (ctx.Canary.Spec?.Analysis?.Comparison?.UseBaseline == true)
        {
            await EnsureBaselineAsync(ctx, canary, primary, replicas, cancellationToken);
            baselineNotAvailable = DeploymentWaiter.NotAvailableReason(await deployments.ReadAsync(ns, WorkloadNames.Baseline(target), cancellationToken));
        }

        // Just scaled: not available yet, without reading it again (the next call reads it).
        var canaryNotAvailable = scaled ? $"scaled to {replicas} replicas" : DeploymentWaiter.NotAvailableReason(canary);
        if (canaryNotAvailable is not null)
            return WorkloadResult.NotYet($"canary Deployment {ns}/{target.Name} not available yet: {canaryNotAvailable}", ctx.ProgressDeadline);
        return baselineNotAvailable is null ? WorkloadResult.Ok
            : WorkloadResult.NotYet($"baseline Deployment {ns}/{WorkloadNames.Baseline(target)} not available yet: {baselineNotAvailable}", ctx.ProgressDeadline);
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
        // A preparation is asked again while the canary rolls out: a baseline that already runs stable's revision at this
        // size is not written again (each write would race the Deployment controller's status updates into a 409).
        if (Deployments.Revision(existing) == Deployments.Revision(wanted) && existing.Spec.Replicas == replicas) return;
        // Stable may have moved on since the last rollout: the baseline follows it (409 means try again later).
        existing.Spec.Template = wanted.Spec.Template;
        existing.Spec.Replicas = replicas;
        existing.Metadata.Annotations ??= new Dictionary<string, string>();
        existing.Metadata.Annotations[Deployments.RevisionAnnotation] = Deployments.Revision(wanted);
        await client.AppsV1.ReplaceNamespacedDeploymentAsync(existing, name, ns, cancellationToken: ct);
    }

    public async Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken)
    {
        CanaryContext ctx;
        try { ctx = await api.ResolveAsync(target, cancellationToken); }
        catch (CanaryNotFoundException e) { return WorkloadResult.Failed(e.Message); }
        var canary = await deployments.ReadAsync(target.Namespace, target.Name, cancellationToken);
        if (RevisionMismatch(canary.Spec.Template, ctx, revision) is { } mismatch) return WorkloadResult.Failed(mismatch);

        var primary = await deployments.ReadAsync(target.Namespace, ctx.PrimaryName, cancellationToken);
        // Asked again while stable rolls out: the template of this revision is written once (its annotation says so).
        var copied = Deployments.Revision(primary) != revision;
        for (var attempt = 1; copied; attempt++)
        {
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
                primary = await deployments.ReadAsync(target.Namespace, ctx.PrimaryName, cancellationToken);
            }
        }

        // Just written: not available yet, without reading it again (the next call reads it).
        var notAvailable = copied ? $"revision {revision} copied to it" : DeploymentWaiter.NotAvailableReason(primary);
        if (notAvailable is not null)
            return WorkloadResult.NotYet($"stable Deployment {target.Namespace}/{ctx.PrimaryName} not available yet: {notAvailable}", ctx.ProgressDeadline);
        // As Flagger: the primary's HPA takes what the target's HPA says now (a release may change min/max or metrics),
        // at promotion, not before: until then the stable version keeps the settings it was proven with. Once, in the call
        // that finds stable available, not in every re-ask while it rolls out (each is a list and two reads).
        await autoscaler.EnsureAsync(ctx, update: true, cancellationToken);
        return WorkloadResult.Ok;
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

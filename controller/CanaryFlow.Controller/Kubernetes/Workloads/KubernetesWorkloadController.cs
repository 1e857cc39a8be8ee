using System.Net;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Seams;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// <see cref="IWorkloadController"/> the Flagger way: the target Deployment is the canary, <c>&lt;name&gt;-primary</c>
/// the stable copy. Missing objects and wrong revisions are reported as failed results; API outages (after
/// the resilience pipeline's retries) surface as exceptions so the caller can try again.
/// </summary>
public sealed class KubernetesWorkloadController(IKubernetes client, CanaryApi api, Deployments deployments, CanaryInitializer initializer,
    DeploymentWaiter waiter, ILogger<KubernetesWorkloadController> logger) : IWorkloadController
{
    public async Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken)
    {
        CanaryContext ctx;
        try { ctx = await api.ResolveAsync(target, cancellationToken); }
        catch (CanaryNotFoundException e) { return WorkloadResult.Failed(e.Message); }
        if (await initializer.EnsureAsync(ctx, firstSight: false, cancellationToken) is { } missing) return WorkloadResult.Failed(missing);

        var canary = await deployments.ReadAsync(target.Namespace, target.Name, cancellationToken);
        if (RevisionMismatch(canary.Spec.Template, ctx, revision) is { } mismatch) return WorkloadResult.Failed(mismatch);
        var primary = await deployments.ReadAsync(target.Namespace, ctx.PrimaryName, cancellationToken);
        var replicas = Math.Max(1, primary.Spec.Replicas ?? 1);
        if (canary.Spec.Replicas != replicas) await deployments.ScaleAsync(target.Namespace, target.Name, replicas, cancellationToken);

        var notAvailable = await waiter.WaitAvailableAsync(target.Namespace, target.Name, ctx.ProgressDeadline, cancellationToken);
        return notAvailable is null ? WorkloadResult.Ok : WorkloadResult.Failed($"canary not ready: {notAvailable}");
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
            primary.Spec.Template = Deployments.StableTemplate(canary.Spec.Template, ctx.TrackLabel);
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

        var notAvailable = await waiter.WaitAvailableAsync(target.Namespace, ctx.PrimaryName, ctx.ProgressDeadline, cancellationToken);
        if (notAvailable is null) return WorkloadResult.Ok;
        logger.LogWarning("{Target}: promotion failed, stable not available: {Reason}", target, notAvailable);
        return WorkloadResult.Failed($"stable not available after promotion: {notAvailable}");
    }

    public async Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken)
    {
        var canary = await deployments.ReadAsync(target.Namespace, target.Name, cancellationToken);
        if (canary.Spec.Replicas != 0) await deployments.ScaleAsync(target.Namespace, target.Name, 0, cancellationToken);
    }

    private static string? RevisionMismatch(k8s.Models.V1PodTemplateSpec template, CanaryContext ctx, string revision)
    {
        var actual = PodTemplateHash.Compute(template, ctx.TrackLabel);
        return actual == revision ? null : $"canary {ctx.Target} runs revision {actual}, not {revision} (superseded?)";
    }
}

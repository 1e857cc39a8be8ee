using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// Moves a primary made by an earlier CanaryFlow (its pods carry the target's selector labels, so the target's
/// selector and HPA count them) to the primary labels (<see cref="PrimaryLabels"/>) without a moment with no stable pods.
/// A Deployment's selector cannot be changed, so the primary is replaced, with a hand-over copy bridging the gap:
/// <list type="number">
/// <item><c>&lt;name&gt;-primary-handover</c>: the old primary's template and size under the hand-over's labels;</item>
/// <item>once it is available, the Service selects by the target label (the hand-over's pods serve the stable subset, the
/// old primary's drop out), and the old primary is deleted;</item>
/// <item>a new primary is created from the hand-over's template;</item>
/// <item>once it is available, the hand-over copy is deleted.</item>
/// </list>
/// Each call takes the one step that what exists allows, and never waits: while a Deployment it made becomes available it
/// answers <see cref="InitializationFailure.Migrating"/> and its caller comes back (the watch requeues the Canary at the
/// poll interval; a rollout's preparation, which waits by its contract, reconciles again). It reads nothing itself but
/// decides on the objects its caller read once for the reconcile, so a crash at any point resumes where it stopped (a new
/// leader included).
/// </summary>
public sealed class PrimaryMigration(Deployments deployments, RoutingObjects routing, ILogger<PrimaryMigration> logger)
{
    public static string HandoverName(string primaryName) => primaryName + "-handover";

    /// <param name="primary">The primary as this reconcile read it (null: there is none).</param>
    /// <param name="handover">The hand-over copy as this reconcile read it (null: there is none).</param>
    /// <returns>Null when there is nothing (more) to migrate: <paramref name="primary"/> is then the primary to go on
    /// with. Otherwise the step under way (<see cref="InitializationFailure.Migrating"/>), or why the migration is stuck.</returns>
    public async Task<InitializationFailure?> StepAsync(CanaryContext ctx, V1Deployment target, V1Deployment? primary, V1Deployment? handover,
        CancellationToken ct)
    {
        var ns = ctx.Target.Namespace;
        var overlaps = primary is not null && PrimaryLabels.Overlaps(target, primary);
        if (handover is null && !overlaps) return null; // the usual case: nothing to migrate

        if (overlaps && handover is null)
        {
            logger.LogInformation("{Target}: moving {Primary} to the primary labels (its pods match the target's selector)", ctx.Target, ctx.PrimaryName);
            var name = HandoverName(ctx.PrimaryName);
            await deployments.CreateAsync(ns, Deployments.CopyOf(primary!, target, name, Deployments.Revision(primary!), ctx.TrackLabel, PodCopy.Handover,
                primary!.Spec.Replicas ?? 1), ct);
            return Migrating(ctx, $"the hand-over copy {name} is starting");
        }
        if (overlaps)
        {
            if (NotAvailable(ctx, handover!) is { } starting) return starting;
            await routing.EnsureServiceSelectorsAsync(ctx, ct);
            await deployments.DeleteAsync(ns, ctx.PrimaryName, ct);
            return Migrating(ctx, "the hand-over copy serves; the old primary is being deleted");
        }
        if (primary is null)
        {
            await deployments.CreateAsync(ns, Deployments.CopyOf(handover!, target, ctx.PrimaryName, Deployments.Revision(handover!), ctx.TrackLabel,
                PodCopy.Primary, handover!.Spec.Replicas ?? 1), ct);
            return Migrating(ctx, "the new primary is starting");
        }
        if (NotAvailable(ctx, primary) is { } notYet) return notYet;
        await deployments.DeleteAsync(ns, handover!.Metadata.Name, ct);
        logger.LogInformation("{Target}: {Primary} runs under the primary labels; hand-over copy deleted", ctx.Target, ctx.PrimaryName);
        return null;
    }

    private static InitializationFailure Migrating(CanaryContext ctx, string step) =>
        new(InitializationFailure.Migrating, $"moving {ctx.PrimaryName} to new labels: {step}");

    /// <summary>Null when available. A Deployment that made no progress within its deadline is a failure (the watch's
    /// back-off retries it), not a step under way; the message of a step under way names no replica counts, so it is
    /// reported once, not at every requeue.</summary>
    private static InitializationFailure? NotAvailable(CanaryContext ctx, V1Deployment d)
    {
        if (DeploymentWaiter.NotAvailableReason(d) is not { } reason) return null;
        return d.Status?.Conditions?.Any(c => c.Type == "Progressing" && c.Reason == "ProgressDeadlineExceeded") == true
            ? new(InitializationFailure.Failed, $"moving {ctx.PrimaryName} to new labels: {d.Metadata.Name} is not available: {reason}")
            : Migrating(ctx, $"waiting for {d.Metadata.Name} to become available");
    }
}

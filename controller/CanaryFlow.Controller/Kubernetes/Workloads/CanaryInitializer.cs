using System.Net;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// Brings a Canary's objects into being (idempotent): the track label on the target's pods, the
/// <c>&lt;name&gt;-primary</c> stable Deployment copied from the target, and the routing objects. On first
/// sight it also waits for the primary and then scales the target (the canary) to zero, as Flagger does, so
/// that only the stable copy serves until a rollout starts. A spec that does not fit the routing objects in the
/// cluster (an adopted object or subset that is missing) is found before anything is changed.
/// </summary>
public sealed class CanaryInitializer(Deployments deployments, RoutingObjects routing, DeploymentWaiter waiter,
    PrimaryAutoscaler autoscaler, PrimaryMigration migration, ILogger<CanaryInitializer> logger)
{
    /// <returns>Null when everything exists (and, on first sight, the primary is available); otherwise why not, or
    /// (<see cref="InitializationFailure.Requeue"/>) the step under way.</returns>
    public async Task<InitializationFailure?> EnsureAsync(CanaryContext ctx, bool firstSight, CancellationToken ct)
    {
        // A call the controller's RBAC does not allow is the user's to fix: it becomes the Canary's condition and an
        // Event (kubectl describe canary), not only a line in the controller's log.
        try { return await EnsureAllowedAsync(ctx, firstSight, ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            return new(InitializationFailure.Forbidden, $"the controller is not allowed: {ApiMessage(e)} (check the ClusterRole bound to its ServiceAccount)");
        }
    }

    /// <summary>The Canary's autoscalerRef changed after its initialisation (removed, or renamed): the primary's HPA copy
    /// follows now, not at the next rollout. A ref to an HPA that does not fit leaves the copy as it is (the next
    /// reconcile reports the spec as invalid).</summary>
    public async Task FollowAutoscalerAsync(CanaryContext ctx, CancellationToken ct)
    {
        try
        {
            if (await autoscaler.ProblemAsync(ctx, ct) is { } problem) { logger.LogWarning("{Target}: {Problem}; the primary's HPA left as it is", ctx.Target, problem); return; }
            await autoscaler.EnsureAsync(ctx, update: false, ct);
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException) // the next rollout's reconcile brings it in step
        {
            logger.LogWarning("{Target}: the primary's HPA could not follow spec.autoscalerRef: {Error}", ctx.Target, e.Message);
        }
    }

    private static string ApiMessage(HttpOperationException e)
    {
        try { return System.Text.Json.Nodes.JsonNode.Parse(e.Response.Content)?["message"]?.GetValue<string>() ?? e.Message; }
        catch (System.Text.Json.JsonException) { return e.Message; }
    }

    private async Task<InitializationFailure?> EnsureAllowedAsync(CanaryContext ctx, bool firstSight, CancellationToken ct)
    {
        // A Canary being deleted gives its objects back (Deletion/): creating them again would undo that.
        if (ctx.Canary.IsDeleting) return new("Deleting", $"Canary {ctx.Canary.Namespace}/{ctx.Canary.Name} is being deleted");
        var ns = ctx.Target.Namespace;
        var target = await deployments.TryReadAsync(ns, ctx.Target.Name, ct);
        if (target is null) return new(InitializationFailure.Failed, $"target Deployment {ctx.Target} does not exist");
        if (await routing.ProblemAsync(ctx, ct) is { } invalid) return new(InitializationFailure.InvalidSpec, invalid);
        if (await autoscaler.ProblemAsync(ctx, ct) is { } noHpa) return new(InitializationFailure.InvalidSpec, noHpa);

        // The canary's pods: the canary track, and the target label the service's Service selects both sides by.
        var wantedLabels = new Dictionary<string, string> { [ctx.TrackLabel] = "canary", [PrimaryLabels.TargetLabel] = ctx.Target.Name };
        var labels = target.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>();
        if (wantedLabels.Any(w => !labels.TryGetValue(w.Key, out var v) || v != w.Value))
            await deployments.LabelTemplateAsync(ns, ctx.Target.Name, wantedLabels, ct);
        // Each object once per reconcile: a step that must wait for one is taken again at the next reconcile.
        var primary = await deployments.TryReadAsync(ns, ctx.PrimaryName, ct);
        var handover = await deployments.TryReadAsync(ns, PrimaryMigration.HandoverName(ctx.PrimaryName), ct);
        // A primary made by an earlier version shares the target's selector labels: replaced first, without downtime.
        if (await migration.StepAsync(ctx, target, primary, handover, ct) is { } migrating) return migrating;

        if (primary is null)
        {
            var revision = PodTemplateHash.Compute(target.Spec.Template, ctx.TrackLabel);
            await deployments.CreateAsync(ns, Deployments.NewPrimary(target, ctx.PrimaryName, revision, ctx.TrackLabel), ct);
            logger.LogInformation("{Target}: created stable Deployment {Primary} at revision {Revision}", ctx.Target, ctx.PrimaryName, revision);
        }

        await autoscaler.EnsureAsync(ctx, update: false, ct); // before the wait: the primary's own HPA sizes it from the start
        if (firstSight && (primary is null || DeploymentWaiter.NotAvailableReason(primary) is not null)
            && await waiter.WaitAvailableAsync(ns, ctx.PrimaryName, ctx.ProgressDeadline, ct) is { } notAvailable)
            return new(InitializationFailure.Failed, notAvailable); // routing stays untouched: never send users to a stable set that is not up

        await routing.EnsureAsync(ctx, target.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>(), firstSight, ct);
        if (firstSight && (target.Spec.Replicas ?? 1) > 0) await deployments.ScaleAsync(ns, ctx.Target.Name, 0, ct);
        return null;
    }
}

/// <summary>Why a Canary's objects could not be brought into being.</summary>
/// <param name="Reason"><see cref="InvalidSpec"/> when the spec does not fit the cluster (reported as invalid specs
/// are), <see cref="Forbidden"/> when the controller's RBAC refused a call, <see cref="Migrating"/> for work under way,
/// otherwise <see cref="Failed"/>.</param>
public sealed record InitializationFailure(string Reason, string Message)
{
    public const string InvalidSpec = "InvalidSpec";
    public const string Failed = "InitializationFailed";
    /// <summary>The API server refused a call (403): the controller's RBAC lacks a verb.</summary>
    public const string Forbidden = "Forbidden";
    /// <summary>No failure: a step of the primary's migration is under way (<see cref="PrimaryMigration"/>); reconcile again soon.</summary>
    public const string Migrating = "Migrating";

    /// <summary>True when the caller should simply reconcile again soon (at the poll interval, without back-off).</summary>
    public bool Requeue => Reason == Migrating;

    public override string ToString() => Message;
}

using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;
using CanaryFlow.Controller.Kubernetes.Routing.Strategies;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Deletion;

/// <summary>
/// The steps that give a service back to its user when its Canary is deleted (Flagger's revertOnDeletion).
/// Each one looks before it acts, so any of them can be run again by a new leader after a crash.
/// </summary>
public sealed class CanaryReverter(IKubernetes client, CanaryApi api, Deployments deployments, HttpRouteObjects httpRoutes, AbMatchRoute ab,
    AffinityRoute affinity, PrimaryAutoscaler autoscaler, ServiceSelectors services, ILogger<CanaryReverter> logger)
{
    /// <summary>The target runs the primary's pod template (the promoted version, without the track label unless an
    /// adopted DestinationRule selects by it) at the primary's size. Nothing to do once the primary is gone: this step was done before it was deleted.</summary>
    /// <returns>What was changed, or null when nothing was.</returns>
    public async Task<string?> RestoreTargetAsync(CanaryContext ctx, CancellationToken ct)
    {
        var ns = ctx.Target.Namespace;
        for (var attempt = 1; ; attempt++)
        {
            var primary = await deployments.TryReadAsync(ns, ctx.PrimaryName, ct);
            var target = await deployments.TryReadAsync(ns, ctx.Target.Name, ct);
            if (primary is null || target is null) return null;
            // An adopted DestinationRule's stable subset now selects the track label (see DestinationRuleSubsets), and
            // it stays the user's: the target keeps "track: stable" so that subset still reaches pods once the
            // primary is gone. Otherwise the user's own template, without the label.
            var keepTrack = ctx.AdoptsDestinationRule;
            // The primary's pods carry the target's selector labels as "<value>-primary": the target gets its own back.
            var template = PrimaryLabels.ForTarget(primary.Spec.Template, target, ctx.TrackLabel, keepTrack);
            var replicas = primary.Spec.Replicas ?? 1;
            var label = target.Spec.Template.Metadata?.Labels?.TryGetValue(ctx.TrackLabel, out var l) == true ? l : null;
            var same = PodTemplateHash.Compute(template, ctx.TrackLabel) == PodTemplateHash.Compute(target.Spec.Template, ctx.TrackLabel)
                       && label == (keepTrack ? template.Metadata?.Labels?[ctx.TrackLabel] : null);
            if (same && target.Spec.Replicas == replicas) return null;
            target.Spec.Template = template;
            target.Spec.Replicas = replicas;
            try
            {
                // Carries the resourceVersion read: a concurrent change answers 409 and is read again.
                await client.AppsV1.ReplaceNamespacedDeploymentAsync(target, ctx.Target.Name, ns, cancellationToken: ct);
                return $"{ctx.Target.Name} runs the template of {ctx.PrimaryName} with {replicas} replicas";
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < 5)
            {
                logger.LogInformation("{Target}: Deployment changed while giving it back; re-reading", ctx.Target);
            }
        }
    }

    /// <summary>The target loses its partition label (sharded replicas' watches select by it): it is no longer
    /// CanaryFlow's, given back or kept (<c>revertOnDeletion: false</c>), and no replica's watch needs its events.</summary>
    public async Task UnlabelTargetAsync(RolloutTarget target, CancellationToken ct)
    {
        if (await deployments.TryReadAsync(target.Namespace, target.Name, ct) is not { Metadata.Labels: { } labels }
            || !labels.ContainsKey(Hosting.Sharding.PartitionLabel.Key)) return;
        try { await deployments.SetPartitionLabelAsync(target.Namespace, target.Name, null, ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
    }

    /// <summary>All traffic to the target: routing objects CanaryFlow created are deleted (the Service then reaches
    /// the target's pods); an adopted VirtualService gets its routes back, 100% to where they pointed.</summary>
    /// <returns>What was changed, or null when nothing was.</returns>
    public async Task<string?> RestoreRoutingAsync(CanaryContext ctx, string? adoptedRoutes, CancellationToken ct)
    {
        var routed = await RestoreRoutesAsync(ctx, adoptedRoutes, ct);
        // Last: the target (available by now) has the selector's labels back, the primary's pods do not.
        var selector = await services.RestoreAsync(ctx, ctx.ServiceName, ct);
        return routed is null ? selector : selector is null ? routed : $"{routed}, {selector}";
    }

    private async Task<string?> RestoreRoutesAsync(CanaryContext ctx, string? adoptedRoutes, CancellationToken ct)
    {
        if (ctx.UsesGatewayApi()) return await httpRoutes.DeleteAsync(ctx, ct);
        var ns = ctx.Target.Namespace;
        var done = new List<string>();
        // A/B: the route CanaryFlow inserted goes first, so the user's routes are where the snapshot saw them.
        if (ctx.AdoptsVirtualService && await ab.RemoveAsync(ctx, ct)) done.Add("removed the A/B match route");
        if (ctx.AdoptsVirtualService && await affinity.RemoveAsync(ctx, ct)) done.Add("removed the session affinity route");
        ctx = ctx with { Subsets = ctx.Subsets with { OnlyRoute = null } };
        for (var attempt = 1; ; attempt++)
        {
            var vs = await api.GetCustomAsync(Istio.Group, Istio.Version, ns, Istio.VirtualServices, ctx.VirtualServiceName, ct);
            if (vs is null) break;
            if (!ctx.AdoptsVirtualService && IsManaged(vs))
            {
                // Deleted before the DestinationRule: a route to a subset that no longer exists would fail requests.
                if (await DeleteCustomAsync(Istio.VirtualServices, ns, ctx.VirtualServiceName, ct)) done.Add($"deleted VirtualService {ctx.VirtualServiceName}");
                break;
            }
            var patch = AdoptedRoutes.GiveBackPatch(vs, ctx.ServiceName, ns, adoptedRoutes, ctx.Subsets);
            if (patch.Count == 1) break; // only the resourceVersion condition: nothing to give back
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, ns, Istio.VirtualServices, ctx.VirtualServiceName, patch, ct);
                done.Add($"gave VirtualService {ctx.VirtualServiceName} its routes back");
                break;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < 5) { }
        }
        if (await api.GetCustomAsync(Istio.Group, Istio.Version, ns, Istio.DestinationRules, ctx.DestinationRuleName, ct) is { } rule && IsManaged(rule)
            && await DeleteCustomAsync(Istio.DestinationRules, ns, ctx.DestinationRuleName, ct))
            done.Add($"deleted DestinationRule {ctx.DestinationRuleName}");
        return done.Count == 0 ? null : string.Join(", ", done);
    }

    /// <summary>Deletes <c>&lt;name&gt;-primary</c>, its HPA, the baseline copy and a migration's hand-over copy, where
    /// they exist.</summary>
    public async Task<string?> DeleteCopiesAsync(CanaryContext ctx, CancellationToken ct)
    {
        var done = new List<string>();
        // The HPA first: it would otherwise scale a Deployment that is being deleted.
        if (await autoscaler.DeleteAsync(ctx, ct) is { } hpa) done.Add($"HorizontalPodAutoscaler {hpa}");
        foreach (var name in new[] { ctx.PrimaryName, WorkloadNames.Baseline(ctx.Target), PrimaryMigration.HandoverName(ctx.PrimaryName) })
        {
            try
            {
                await client.AppsV1.DeleteNamespacedDeploymentAsync(name, ctx.Target.Namespace, cancellationToken: ct);
                done.Add(name);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
        }
        return done.Count == 0 ? null : $"deleted {string.Join(", ", done)}";
    }

    private static bool IsManaged(JsonObject obj) => (string?)obj["metadata"]?["labels"]?[Istio.ManagedByLabel] == Istio.ManagedBy;

    private async Task<bool> DeleteCustomAsync(string plural, string ns, string name, CancellationToken ct)
    {
        try
        {
            await client.CustomObjects.DeleteNamespacedCustomObjectAsync(Istio.Group, Istio.Version, ns, plural, name, cancellationToken: ct);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
    }
}

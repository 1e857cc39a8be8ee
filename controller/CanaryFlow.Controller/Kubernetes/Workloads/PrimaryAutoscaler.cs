using System.Net;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// <c>spec.autoscalerRef</c>, as Flagger does it: <c>&lt;hpa&gt;-primary</c> is a copy of the target's
/// HorizontalPodAutoscaler (min/max, metrics, behavior) that scales <c>&lt;name&gt;-primary</c>: created when missing,
/// and brought in step with the target's at promotion only, so that a release's new autoscaling settings apply to the
/// stable version once the release has proven itself, with its code. The target's own HPA is left as the user wrote it:
/// it scales the canary while a rollout runs, and Kubernetes does not autoscale a workload at 0 replicas
/// (ScalingActive=False, ScalingDisabled), so it never fights the canary being scaled to zero between rollouts.
/// </summary>
public sealed class PrimaryAutoscaler(IKubernetes client, ILogger<PrimaryAutoscaler> logger)
{
    private const int MaxAttempts = 5;

    public static string PrimaryName(string hpa) => hpa + WorkloadNames.StableSuffix;

    /// <summary>Why the Canary's autoscalerRef does not fit the cluster (no such HPA, or one that scales something
    /// else than the target), or null. Only reads.</summary>
    public async Task<string?> ProblemAsync(CanaryContext ctx, CancellationToken ct)
    {
        if (ctx.Canary.Spec?.AutoscalerRef?.Name is not { Length: > 0 } name) return null;
        var hpa = await TryReadAsync(ctx.Target.Namespace, name, ct);
        if (hpa is null) return $"HorizontalPodAutoscaler {ctx.Target.Namespace}/{name} (spec.autoscalerRef) does not exist";
        var target = hpa.Spec.ScaleTargetRef;
        return target.Kind == "Deployment" && target.Name == ctx.Target.Name
            ? null
            : $"HorizontalPodAutoscaler {ctx.Target.Namespace}/{name} scales {target.Kind} {target.Name}, not the target Deployment {ctx.Target.Name}";
    }

    /// <summary>Creates the primary's HPA from the target's when missing; with <paramref name="update"/> (promotion) also
    /// brings an existing one in step (conditional writes: a 409 re-reads).
    /// A copy made for an autoscalerRef since removed or renamed is deleted first: two HPAs must never scale the primary.</summary>
    public async Task EnsureAsync(CanaryContext ctx, bool update, CancellationToken ct)
    {
        var name = ctx.Canary.Spec?.AutoscalerRef?.Name is { Length: > 0 } n ? n : null;
        await DeleteCopiesAsync(ctx, keep: name is null ? null : PrimaryName(name), ct);
        if (name is null) return;
        var ns = ctx.Target.Namespace;
        for (var attempt = 1; ; attempt++)
        {
            if (await TryReadAsync(ns, name, ct) is not { } source)
            {
                // Deleted since the spec was checked: the primary keeps whatever HPA it has (a promotion that already
                // replaced the primary must not fail here), and the next reconcile reports the spec as invalid.
                logger.LogWarning("{Target}: HorizontalPodAutoscaler {Ns}/{Hpa} (spec.autoscalerRef) is gone; {Primary}'s HPA left as it is", ctx.Target, ns, name, ctx.PrimaryName);
                return;
            }
            var wanted = Copy(source.Spec, ctx.PrimaryName);
            var existing = await TryReadAsync(ns, PrimaryName(name), ct);
            try
            {
                if (existing is null)
                {
                    await client.AutoscalingV2.CreateNamespacedHorizontalPodAutoscalerAsync(new V2HorizontalPodAutoscaler
                    {
                        ApiVersion = "autoscaling/v2", Kind = "HorizontalPodAutoscaler",
                        Metadata = new V1ObjectMeta
                        {
                            Name = PrimaryName(name), NamespaceProperty = ns,
                            Labels = new Dictionary<string, string> { [Istio.ManagedByLabel] = Istio.ManagedBy },
                        },
                        Spec = wanted,
                    }, ns, cancellationToken: ct);
                    logger.LogInformation("{Target}: created HorizontalPodAutoscaler {Hpa} for {Primary}", ctx.Target, PrimaryName(name), ctx.PrimaryName);
                    return;
                }
                if (!update || Same(existing.Spec, wanted)) return;
                existing.Spec = wanted; // Replace carries the resourceVersion read
                await client.AutoscalingV2.ReplaceNamespacedHorizontalPodAutoscalerAsync(existing, PrimaryName(name), ns, cancellationToken: ct);
                logger.LogInformation("{Target}: HorizontalPodAutoscaler {Hpa} follows {Source}", ctx.Target, PrimaryName(name), name);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    /// <summary>On deletion of the Canary: deletes the primary's HPA copies (only CanaryFlow's own). Null when there was none.</summary>
    public async Task<string?> DeleteAsync(CanaryContext ctx, CancellationToken ct) =>
        await DeleteCopiesAsync(ctx, keep: null, ct) is { Count: > 0 } deleted ? string.Join(", ", deleted) : null;

    /// <summary>Deletes CanaryFlow's HPAs that scale the primary, but <paramref name="keep"/>: found by what they are (the
    /// managed-by label and their scale target), not by the Canary's current spec, which may no longer name them.</summary>
    private async Task<List<string>> DeleteCopiesAsync(CanaryContext ctx, string? keep, CancellationToken ct)
    {
        var ns = ctx.Target.Namespace;
        V2HorizontalPodAutoscalerList copies;
        try { copies = await client.AutoscalingV2.ListNamespacedHorizontalPodAutoscalerAsync(ns, labelSelector: $"{Istio.ManagedByLabel}={Istio.ManagedBy}", cancellationToken: ct); }
        // A Canary without autoscalerRef needs no HPA permission (a ClusterRole written before autoscalerRef has none, and
        // without it no copy could have been made either).
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden && ctx.Canary.Spec?.AutoscalerRef?.Name is not { Length: > 0 }) { return []; }
        var deleted = new List<string>();
        foreach (var hpa in copies.Items.Where(h => h.Metadata.Name != keep && h.Spec.ScaleTargetRef is { Kind: "Deployment" } t && t.Name == ctx.PrimaryName))
        {
            try
            {
                await client.AutoscalingV2.DeleteNamespacedHorizontalPodAutoscalerAsync(hpa.Metadata.Name, ns, cancellationToken: ct);
                logger.LogInformation("{Target}: deleted HorizontalPodAutoscaler {Hpa}, which scaled {Primary}", ctx.Target, hpa.Metadata.Name, ctx.PrimaryName);
                deleted.Add(hpa.Metadata.Name);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
        }
        return deleted;
    }

    /// <summary>The target's HPA spec pointed at the primary.</summary>
    public static V2HorizontalPodAutoscalerSpec Copy(V2HorizontalPodAutoscalerSpec source, string primaryName)
    {
        var copy = KubernetesJson.Deserialize<V2HorizontalPodAutoscalerSpec>(KubernetesJson.Serialize(source));
        copy.ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = source.ScaleTargetRef.ApiVersion ?? "apps/v1", Kind = "Deployment", Name = primaryName };
        return copy;
    }

    /// <summary>Compared as the server returns them (it fills in defaults such as behavior and minReplicas 1): what the user
    /// can change, min/max, metrics and behavior, is equal when the copy's JSON is.</summary>
    private static bool Same(V2HorizontalPodAutoscalerSpec a, V2HorizontalPodAutoscalerSpec b) =>
        System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(a)), System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(b)));

    private async Task<V2HorizontalPodAutoscaler?> TryReadAsync(string ns, string name, CancellationToken ct)
    {
        try { return await client.AutoscalingV2.ReadNamespacedHorizontalPodAutoscalerAsync(name, ns, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }
}

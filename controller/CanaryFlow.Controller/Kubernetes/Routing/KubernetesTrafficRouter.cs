using System.Net;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// <see cref="ITrafficRouter"/> on an Istio VirtualService. Every write is conditional on the version read
/// (409 re-reads and re-applies the desired weights) and is read back; a mismatch (another writer, a webhook
/// rewriting the object) is corrected and logged, so that traffic is never silently left where it should not be.
/// </summary>
public sealed class KubernetesTrafficRouter(CanaryApi api, CanaryInitializer initializer, ILogger<KubernetesTrafficRouter> logger) : ITrafficRouter
{
    private const int MaxAttempts = 6;

    public async Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken)
    {
        var ctx = await api.ResolveAsync(target, cancellationToken);
        var vs = await ReadAsync(ctx, cancellationToken)
                 ?? throw new InvalidOperationException($"VirtualService {target.Namespace}/{ctx.VirtualServiceName} does not exist.");
        return VirtualServiceRoutes.Read(vs, ctx.ServiceName, target.Namespace)
               ?? throw new InvalidOperationException($"VirtualService {ctx.VirtualServiceName} has no route to service {ctx.ServiceName}.");
    }

    public async Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken)
    {
        if (canaryWeight is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(canaryWeight), canaryWeight, "weight must be 0..100");
        var ctx = await api.ResolveAsync(target, cancellationToken);
        var desired = new TrafficWeights(100 - canaryWeight, canaryWeight);
        if (ctx.Canary.IsDeleting)
        {
            // Its deletion owns the routing now: only "all to stable" (a rollback) is still written, and only where it can be.
            if (canaryWeight > 0) throw new InvalidOperationException($"{target}: the Canary is being deleted; canary weight {canaryWeight}% refused");
            if (await ReadAsync(ctx, cancellationToken) is not { } left || VirtualServiceRoutes.Read(left, ctx.ServiceName, target.Namespace) is null) return desired;
        }
        // Routing objects deleted behind our back (not the user's own VirtualService) are created again.
        if (!ctx.AdoptsVirtualService && await ReadAsync(ctx, cancellationToken) is null
            && await initializer.EnsureAsync(ctx, firstSight: false, cancellationToken) is { } missing)
            throw new InvalidOperationException($"{target}: cannot route: {missing}");
        TrafficWeights? before = null;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var vs = await ReadAsync(ctx, cancellationToken)
                     ?? throw new InvalidOperationException($"VirtualService {target.Namespace}/{ctx.VirtualServiceName} does not exist.");
            var current = VirtualServiceRoutes.Read(vs, ctx.ServiceName, target.Namespace)
                          ?? throw new InvalidOperationException($"VirtualService {ctx.VirtualServiceName} has no route to service {ctx.ServiceName}.");
            before ??= current;
            if (current == desired)
            {
                if (attempt > 1) logger.LogInformation("{Target}: weights verified at {Stable}/{Canary}", target, desired.Stable, desired.Canary);
                return before.Value;
            }
            if (attempt > 1)
                logger.LogWarning("{Target}: read back {Stable}/{Canary}, wanted {WantStable}/{WantCanary}; correcting",
                    target, current.Stable, current.Canary, desired.Stable, desired.Canary);
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName,
                    VirtualServiceRoutes.WeightPatch(vs, ctx.ServiceName, target.Namespace, canaryWeight), cancellationToken);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
            {
                logger.LogInformation("{Target}: VirtualService changed while writing weights; re-reading", target);
            }
            // The next pass reads back what the server holds and returns only when it is what was asked.
        }
        throw new InvalidOperationException($"{target}: could not set canary weight {canaryWeight} after {MaxAttempts} attempts.");
    }

    private Task<System.Text.Json.Nodes.JsonObject?> ReadAsync(CanaryContext ctx, CancellationToken ct) =>
        api.GetCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, ct);
}

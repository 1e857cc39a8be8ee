using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// <see cref="ITrafficRouter"/> on an Istio VirtualService: the weights of the routes to the Canary's stable and
/// canary subsets (see <see cref="VirtualServiceWeights"/> for the conditional, verified write).
/// </summary>
public sealed class KubernetesTrafficRouter(CanaryApi api, CanaryInitializer initializer, VirtualServiceWeights weights, Strategies.AbMatchRoute ab,
    Strategies.AffinityRoute affinity, Strategies.MirrorRoute mirrors) : ITrafficRouter
{
    public async Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken) =>
        await weights.ReadAsync(await api.ResolveAsync(target, cancellationToken), cancellationToken);

    public Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken) =>
        SetWeightsAsync(target, canaryWeight, mirror: false, cancellationToken);

    public async Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, bool mirror, CancellationToken cancellationToken)
    {
        if (canaryWeight is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(canaryWeight), canaryWeight, "weight must be 0..100");
        var ctx = await api.ResolveAsync(target, cancellationToken);
        if (ctx.Canary.IsDeleting)
        {
            // Its deletion owns the routing now: only "all to stable" (a rollback) is still written, and only where it can be.
            if (canaryWeight > 0) throw new InvalidOperationException($"{target}: the Canary is being deleted; canary weight {canaryWeight}% refused");
            if (await weights.TryGetAsync(ctx, cancellationToken) is not { } left
                || VirtualServiceRoutes.Read(left, ctx.ServiceName, target.Namespace, ctx.Subsets) is null) return new TrafficWeights(100, 0);
        }
        // Routing objects deleted behind our back (not the user's own VirtualService) are created again.
        if (!ctx.AdoptsVirtualService && await weights.TryGetAsync(ctx, cancellationToken) is null
            && await initializer.EnsureAsync(ctx, firstSight: false, cancellationToken) is { } missing)
            throw new InvalidOperationException($"{target}: cannot route: {missing.Message}");
        if (!ctx.Canary.IsDeleting) await ab.EnsureAsync(ctx, cancellationToken); // A/B: the match route exists before its weight is written
        // Session affinity: the canary sets its cookie before the weight sends anyone there, and cookie holders go back
        // to stable only once the weight is 0 (both idempotent).
        if (canaryWeight > 0) await affinity.ApplyAsync(ctx, canaryWeight, cancellationToken);
        if (!mirror) await mirrors.ApplyAsync(ctx, mirror: false, cancellationToken); // stop mirroring before the weight moves
        var (before, written) = await weights.WriteAsync(ctx, canaryWeight, cancellationToken);
        await affinity.ApplyAsync(ctx, canaryWeight, cancellationToken);
        // A strategy taken out of the spec leaves no route behind: the written VirtualService says whether one is left.
        if (!ctx.Canary.IsDeleting)
        {
            await ab.RemoveIfUnwantedAsync(ctx, written, cancellationToken);
            await affinity.RemoveIfUnwantedAsync(ctx, written, cancellationToken);
        }
        if (mirror && !ctx.Canary.IsDeleting) await mirrors.ApplyAsync(ctx, mirror: true, cancellationToken);
        return before;
    }
}

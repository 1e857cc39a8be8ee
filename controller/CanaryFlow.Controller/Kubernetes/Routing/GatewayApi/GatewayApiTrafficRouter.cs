using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;

/// <summary>
/// <see cref="ITrafficRouter"/> on a Gateway API HTTPRoute: the weights of its backendRefs to the primary and canary
/// Services. Each write is conditional on the version read (a 409 re-reads) and is read back, as the Istio router's.
/// </summary>
public sealed class GatewayApiTrafficRouter(CanaryApi api, HttpRouteObjects routes, CanaryInitializer initializer,
    ILogger<GatewayApiTrafficRouter> logger) : ITrafficRouter
{
    private const int MaxAttempts = 6;

    public async Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken)
    {
        var ctx = await api.ResolveAsync(target, cancellationToken);
        return Weights(ctx, await GetAsync(ctx, cancellationToken));
    }

    public async Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken)
    {
        if (canaryWeight is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(canaryWeight), canaryWeight, "weight must be 0..100");
        var ctx = await api.ResolveAsync(target, cancellationToken);
        var route = await routes.TryGetRouteAsync(ctx, cancellationToken);
        if (ctx.Canary.IsDeleting)
        {
            if (canaryWeight > 0) throw new InvalidOperationException($"{target}: the Canary is being deleted; canary weight {canaryWeight}% refused");
            if (route is null) return new TrafficWeights(100, 0);
        }
        // A route deleted behind our back is created again (it is always CanaryFlow's own).
        else if (route is null && await initializer.EnsureAsync(ctx, firstSight: false, cancellationToken) is { } missing)
            throw new InvalidOperationException($"{target}: cannot route: {missing.Message}");
        // A/B: the matching requests' rule follows the Canary's analysis.match before its weight is written (as on Istio).
        else if (route is not null) await routes.SyncAbRuleAsync(ctx, route, cancellationToken);

        var desired = new TrafficWeights(100 - canaryWeight, canaryWeight);
        TrafficWeights? before = null;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var current = await GetAsync(ctx, cancellationToken);
            var weights = Weights(ctx, current);
            before ??= weights;
            if (weights == desired) return before.Value;
            if (attempt > 1) logger.LogWarning("{Target}: HTTPRoute read back {Stable}/{Canary}, wanted {WantStable}/{WantCanary}; correcting",
                target, weights.Stable, weights.Canary, desired.Stable, desired.Canary);
            try
            {
                await api.JsonPatchCustomAsync(GatewayApi.Group, GatewayApi.Version, target.Namespace, GatewayApi.HttpRoutes, ctx.RouteName(),
                    HttpRouteBackends.WeightPatch(current, ctx.StableService(), ctx.CanaryService(), canaryWeight, HttpRouteMatches.IsAb(ctx)), cancellationToken);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
            {
                logger.LogInformation("{Target}: HTTPRoute changed while writing weights; re-reading", target);
            }
        }
        throw new InvalidOperationException($"{target}: could not set canary weight {canaryWeight} on HTTPRoute {ctx.RouteName()} after {MaxAttempts} attempts.");
    }

    private async Task<JsonObject> GetAsync(CanaryContext ctx, CancellationToken ct) =>
        await routes.TryGetRouteAsync(ctx, ct) ?? throw new InvalidOperationException($"HTTPRoute {ctx.Target.Namespace}/{ctx.RouteName()} does not exist");

    private static TrafficWeights Weights(CanaryContext ctx, JsonObject route) =>
        HttpRouteBackends.Read(route, ctx.StableService(), ctx.CanaryService(), HttpRouteMatches.IsAb(ctx))
        ?? throw new InvalidOperationException($"HTTPRoute {ctx.Target.Namespace}/{ctx.RouteName()} has no backendRef to Service {ctx.StableService()}");
}

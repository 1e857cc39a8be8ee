using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;

/// <summary>
/// What routing through a Gateway API HTTPRoute needs, created on first sight of a Canary with provider gatewayapi:
/// a Service per side (<c>&lt;service&gt;-primary</c> selecting the stable pods, <c>&lt;service&gt;-canary</c> the
/// canary pods, by the track label; Gateway API routes to Services, not subsets) and an HTTPRoute whose one rule sends
/// 100% to the primary Service. Its parents are the Canary's <c>service.gatewayRefs</c>, or, without any, the service
/// itself (GAMMA: the mesh routes east-west traffic to that Service by the route). Never overwrites anything.
/// </summary>
public sealed class HttpRouteObjects(CanaryApi api, ServiceSelectors services, ILogger<HttpRouteObjects> logger)
{
    public Task<JsonObject?> TryGetRouteAsync(CanaryContext ctx, CancellationToken ct) =>
        api.GetCustomAsync(GatewayApi.Group, GatewayApi.Version, ctx.Target.Namespace, GatewayApi.HttpRoutes, ctx.RouteName(), ct);

    /// <summary>Why the Canary cannot route through an HTTPRoute here (someone else's route in the way), or null.</summary>
    public async Task<string?> ProblemAsync(CanaryContext ctx, CancellationToken ct) =>
        await TryGetRouteAsync(ctx, ct) is { } route && !IsManaged(route)
            ? $"HTTPRoute {ctx.Target.Namespace}/{ctx.RouteName()} exists and is not CanaryFlow's"
            : null;

    public async Task EnsureAsync(CanaryContext ctx, CancellationToken ct)
    {
        await EnsureServicesAsync(ctx, ct);
        if (await TryGetRouteAsync(ctx, ct) is not { } route)
        {
            await api.CreateCustomAsync(GatewayApi.Group, GatewayApi.Version, ctx.Target.Namespace, GatewayApi.HttpRoutes, Route(ctx), ct);
            logger.LogInformation("{Target}: created HTTPRoute {Route} (all traffic to {Stable})", ctx.Target, ctx.RouteName(), ctx.StableService());
        }
        else await SyncAbRuleAsync(ctx, route, ct);
    }

    /// <summary>Brings the A/B rule in step with the Canary's <c>analysis.match</c> (<see cref="HttpRouteMatches.SyncPatch"/>);
    /// a route changed meanwhile (409) is left to the next call, which reads it again.</summary>
    public async Task SyncAbRuleAsync(CanaryContext ctx, JsonObject route, CancellationToken ct)
    {
        if (HttpRouteMatches.SyncPatch(ctx, route) is not { } patch) return;
        try
        {
            await api.JsonPatchCustomAsync(GatewayApi.Group, GatewayApi.Version, ctx.Target.Namespace, GatewayApi.HttpRoutes, ctx.RouteName(), patch, ct);
            logger.LogInformation("{Target}: HTTPRoute {Route}: A/B rule brought in step with analysis.match", ctx.Target, ctx.RouteName());
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { }
    }

    /// <summary>On deletion of the Canary: deletes the HTTPRoute and the two Services CanaryFlow created (the route first,
    /// so that no request is sent to a Service that is gone). Traffic then reaches the service as it did before.</summary>
    /// <returns>What was deleted, or null.</returns>
    public async Task<string?> DeleteAsync(CanaryContext ctx, CancellationToken ct)
    {
        var ns = ctx.Target.Namespace;
        var done = new List<string>();
        if (await TryGetRouteAsync(ctx, ct) is { } route && IsManaged(route))
        {
            try
            {
                await api.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GatewayApi.Group, GatewayApi.Version, ns, GatewayApi.HttpRoutes, ctx.RouteName(), cancellationToken: ct);
                done.Add($"deleted HTTPRoute {ctx.RouteName()}");
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
        }
        foreach (var name in new[] { ctx.StableService(), ctx.CanaryService() })
        {
            try
            {
                var service = await api.Client.CoreV1.ReadNamespacedServiceAsync(name, ns, cancellationToken: ct);
                if (service.Metadata.Labels is not { } labels || !labels.TryGetValue(Istio.ManagedByLabel, out var by) || by != Istio.ManagedBy) continue;
                await api.Client.CoreV1.DeleteNamespacedServiceAsync(name, ns, cancellationToken: ct);
                done.Add($"deleted Service {name}");
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
        }
        return done.Count == 0 ? null : string.Join(", ", done);
    }

    /// <summary>The two side Services, by the target label and the track (so an earlier version's, by the target's
    /// selector labels, is brought in step).</summary>
    public async Task EnsureServicesAsync(CanaryContext ctx, CancellationToken ct)
    {
        var selector = Workloads.PrimaryLabels.ServiceSelector(ctx.Target.Name);
        await services.EnsureAsync(ctx, ctx.StableService(), new Dictionary<string, string>(selector) { [ctx.TrackLabel] = "stable" }, ct, ownedOnly: true);
        await services.EnsureAsync(ctx, ctx.CanaryService(), new Dictionary<string, string>(selector) { [ctx.TrackLabel] = "canary" }, ct, ownedOnly: true);
    }

    private static bool IsManaged(JsonObject obj) => (string?)obj["metadata"]?["labels"]?[Istio.ManagedByLabel] == Istio.ManagedBy;

    private static JsonObject Route(CanaryContext ctx)
    {
        var service = ctx.Canary.Spec?.Service;
        JsonObject Backend(string name, int weight) => new() { ["name"] = name, ["port"] = ctx.ServicePort, ["weight"] = weight };
        var parents = service?.GatewayRefs is { Count: > 0 } refs
            ? new JsonArray([.. refs.Select(r => (JsonNode?)Parent(r))])
            : new JsonArray(new JsonObject { ["group"] = "", ["kind"] = "Service", ["name"] = ctx.ServiceName, ["port"] = ctx.ServicePort });
        var spec = new JsonObject { ["parentRefs"] = parents };
        if (service?.Hosts is { Count: > 0 } hosts) spec["hostnames"] = new JsonArray([.. hosts.Select(h => (JsonNode?)h)]);
        spec["rules"] = new JsonArray(new JsonObject
        {
            ["backendRefs"] = new JsonArray(Backend(ctx.StableService(), 100), Backend(ctx.CanaryService(), 0)),
        });
        if (HttpRouteMatches.Rule(ctx) is { } ab) spec["rules"]!.AsArray().Insert(0, ab); // A/B: the matching requests' rule first
        return new JsonObject
        {
            ["apiVersion"] = GatewayApi.ApiVersion,
            ["kind"] = "HTTPRoute",
            ["metadata"] = new JsonObject
            {
                ["name"] = ctx.RouteName(), ["namespace"] = ctx.Target.Namespace,
                ["labels"] = new JsonObject { [Istio.ManagedByLabel] = Istio.ManagedBy },
            },
            ["spec"] = spec,
        };
    }

    private static JsonObject Parent(Model.GatewayRef r)
    {
        var parent = new JsonObject { ["name"] = r.Name };
        if (r.Namespace is { Length: > 0 } ns) parent["namespace"] = ns;
        if (r.SectionName is { Length: > 0 } section) parent["sectionName"] = section;
        return parent;
    }
}

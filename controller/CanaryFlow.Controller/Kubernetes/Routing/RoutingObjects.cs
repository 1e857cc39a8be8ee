using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// Creates what routing needs on first sight of a Canary: the Service (when the user has none), a
/// DestinationRule with the stable/canary subsets by the track label, and a VirtualService sending 100% to
/// stable. The user's own VirtualService and DestinationRule are adopted instead: on first sight all traffic
/// goes to the stable subset, and the adopted rule's two subsets are re-pointed at the track label (see
/// <see cref="DestinationRuleSubsets"/>). Never overwrites anything else.
/// </summary>
public sealed class RoutingObjects(CanaryApi api, VirtualServiceWeights weights, HttpRouteObjects httpRoutes, Strategies.AbMatchRoute ab, ServiceSelectors services,
    ILogger<RoutingObjects> logger)
{
    private const int MaxAttempts = 5;

    /// <summary>Why the Canary's spec does not fit the routing objects in the cluster (a missing adopted object or
    /// subset, a rule of someone else's in the way), or null. Only reads, so nothing is changed for a bad spec.</summary>
    public async Task<string?> ProblemAsync(CanaryContext ctx, CancellationToken ct)
    {
        if (ctx.UsesGatewayApi()) return await httpRoutes.ProblemAsync(ctx, ct);
        if (ctx.AdoptsVirtualService && VirtualServiceWeights.Problem(ctx, await weights.TryGetAsync(ctx, ct)) is { } vsProblem) return vsProblem;
        var rule = await GetRuleAsync(ctx, ct);
        if (ctx.AdoptsDestinationRule) return DestinationRuleSubsets.Problem(ctx, rule);
        return rule is not null && (string?)rule["metadata"]?["labels"]?[Istio.ManagedByLabel] != Istio.ManagedBy
            ? $"DestinationRule {ctx.Target.Namespace}/{ctx.DestinationRuleName} exists and is not CanaryFlow's: name it in spec.destinationRule to adopt it"
            : null;
    }

    public async Task EnsureAsync(CanaryContext ctx, IDictionary<string, string> podSelector, bool firstSight, CancellationToken ct)
    {
        await EnsureServiceAsync(ctx, podSelector, ct);
        if (ctx.UsesGatewayApi()) { await httpRoutes.EnsureAsync(ctx, ct); return; }
        var ns = ctx.Target.Namespace;
        if (!ctx.AdoptsVirtualService)
        {
            if (await weights.TryGetAsync(ctx, ct) is null)
                await api.CreateCustomAsync(Istio.Group, Istio.Version, ns, Istio.VirtualServices, VirtualService(ctx), ct);
        }
        // The user's split (say 90/10) would send users to a canary about to be scaled to zero: all to stable first,
        // before the subsets change what they select.
        else if (firstSight) await weights.WriteAsync(ctx, 0, ct);
        await ab.EnsureAsync(ctx, ct);

        if (ctx.AdoptsDestinationRule) await PointSubsetsAsync(ctx, ct);
        else if (await GetRuleAsync(ctx, ct) is null)
            await api.CreateCustomAsync(Istio.Group, Istio.Version, ns, Istio.DestinationRules, DestinationRule(ctx), ct);
    }

    /// <summary>Re-points the adopted rule's two subsets (conditional write; a 409 re-reads and tries again).</summary>
    private async Task PointSubsetsAsync(CanaryContext ctx, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var rule = await GetRuleAsync(ctx, ct);
            if (DestinationRuleSubsets.Problem(ctx, rule) is { } problem) throw new InvalidOperationException(problem);
            if (DestinationRuleSubsets.LabelPatch(ctx, rule!) is not { } patch) return;
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.DestinationRules, ctx.DestinationRuleName, patch, ct);
                logger.LogInformation("{Target}: DestinationRule {Rule} subsets {Stable}/{Canary} now select {Label}=stable/canary",
                    ctx.Target, ctx.DestinationRuleName, ctx.Subsets.Stable, ctx.Subsets.Canary, ctx.TrackLabel);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    private Task<JsonObject?> GetRuleAsync(CanaryContext ctx, CancellationToken ct) =>
        api.GetCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.DestinationRules, ctx.DestinationRuleName, ct);

    /// <summary>The service's Service (and, with Gateway API, its two side Services) select by the target label
    /// (<see cref="Workloads.PrimaryLabels"/>): the primary's pods no longer carry the target's selector labels.</summary>
    public async Task EnsureServiceSelectorsAsync(CanaryContext ctx, CancellationToken ct)
    {
        await services.EnsureAsync(ctx, ctx.ServiceName, Workloads.PrimaryLabels.ServiceSelector(ctx.Target.Name), ct);
        if (ctx.UsesGatewayApi()) await httpRoutes.EnsureServicesAsync(ctx, ct);
    }

    private Task EnsureServiceAsync(CanaryContext ctx, IDictionary<string, string> podSelector, CancellationToken ct) =>
        services.EnsureAsync(ctx, ctx.ServiceName, Workloads.PrimaryLabels.ServiceSelector(ctx.Target.Name), ct,
            original: podSelector.Where(p => p.Key != ctx.TrackLabel).ToDictionary());

    private static JsonObject Meta(CanaryContext ctx, string name) => new()
    {
        ["name"] = name,
        ["namespace"] = ctx.Target.Namespace,
        ["labels"] = new JsonObject { [Istio.ManagedByLabel] = Istio.ManagedBy },
    };

    private static JsonObject DestinationRule(CanaryContext ctx) => new()
    {
        ["apiVersion"] = Istio.ApiVersion,
        ["kind"] = "DestinationRule",
        ["metadata"] = Meta(ctx, ctx.DestinationRuleName),
        ["spec"] = new JsonObject
        {
            ["host"] = ctx.ServiceName,
            ["subsets"] = new JsonArray(
                new JsonObject { ["name"] = ctx.Subsets.Stable, ["labels"] = new JsonObject { [ctx.TrackLabel] = "stable" } },
                new JsonObject { ["name"] = ctx.Subsets.Canary, ["labels"] = new JsonObject { [ctx.TrackLabel] = "canary" } }),
        },
    };

    private static JsonObject VirtualService(CanaryContext ctx)
    {
        var service = ctx.Canary.Spec?.Service;
        JsonObject Destination(string subset, int weight) => new()
        {
            ["destination"] = new JsonObject
            {
                ["host"] = ctx.ServiceName, ["subset"] = subset, ["port"] = new JsonObject { ["number"] = ctx.ServicePort },
            },
            ["weight"] = weight,
        };
        var spec = new JsonObject
        {
            ["hosts"] = new JsonArray([.. (service?.Hosts is { Count: > 0 } h ? h : [ctx.ServiceName]).Select(x => (JsonNode?)x)]),
        };
        if (service?.Gateways is { Count: > 0 } gateways) spec["gateways"] = new JsonArray([.. gateways.Select(x => (JsonNode?)x)]);
        spec["http"] = new JsonArray(new JsonObject
        {
            ["route"] = new JsonArray(Destination(ctx.Subsets.Stable, 100), Destination(ctx.Subsets.Canary, 0)),
        });
        return new JsonObject { ["apiVersion"] = Istio.ApiVersion, ["kind"] = "VirtualService", ["metadata"] = Meta(ctx, ctx.VirtualServiceName), ["spec"] = spec };
    }
}

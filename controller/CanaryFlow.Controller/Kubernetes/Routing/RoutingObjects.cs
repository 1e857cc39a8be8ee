using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// Creates what routing needs on first sight of a Canary: the Service (when the user has none), a
/// DestinationRule with stable/canary subsets by the track label, and a VirtualService sending 100% to
/// stable; or checks that the user's VirtualService, which is adopted, exists. Never overwrites.
/// </summary>
public sealed class RoutingObjects(CanaryApi api)
{
    public async Task EnsureAsync(CanaryContext ctx, IDictionary<string, string> podSelector, CancellationToken ct)
    {
        await EnsureServiceAsync(ctx, podSelector, ct);
        var ns = ctx.Target.Namespace;
        if (await api.GetCustomAsync(Istio.Group, Istio.Version, ns, Istio.DestinationRules, ctx.DestinationRuleName, ct) is null)
            await api.CreateCustomAsync(Istio.Group, Istio.Version, ns, Istio.DestinationRules, DestinationRule(ctx), ct);

        if (await api.GetCustomAsync(Istio.Group, Istio.Version, ns, Istio.VirtualServices, ctx.VirtualServiceName, ct) is not null) return;
        if (ctx.AdoptsVirtualService)
            throw new InvalidOperationException($"VirtualService {ns}/{ctx.VirtualServiceName} named by Canary {ctx.Canary.Name} does not exist.");
        await api.CreateCustomAsync(Istio.Group, Istio.Version, ns, Istio.VirtualServices, VirtualService(ctx), ct);
    }

    private async Task EnsureServiceAsync(CanaryContext ctx, IDictionary<string, string> podSelector, CancellationToken ct)
    {
        try
        {
            await api.Client.CoreV1.ReadNamespacedServiceAsync(ctx.ServiceName, ctx.Target.Namespace, cancellationToken: ct);
            return;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
        var service = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = ctx.ServiceName, NamespaceProperty = ctx.Target.Namespace, Labels = Managed() },
            Spec = new V1ServiceSpec
            {
                // Selects stable and canary pods alike; the DestinationRule subsets tell them apart.
                Selector = podSelector.Where(p => p.Key != ctx.TrackLabel).ToDictionary(),
                Ports = [new V1ServicePort { Name = "http", Port = ctx.ServicePort, TargetPort = ctx.ServicePort }],
            },
        };
        try { await api.Client.CoreV1.CreateNamespacedServiceAsync(service, ctx.Target.Namespace, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { }
    }

    private static Dictionary<string, string> Managed() => new() { [Istio.ManagedByLabel] = Istio.ManagedBy };

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
                new JsonObject { ["name"] = VirtualServiceRoutes.StableSubset, ["labels"] = new JsonObject { [ctx.TrackLabel] = "stable" } },
                new JsonObject { ["name"] = VirtualServiceRoutes.CanarySubset, ["labels"] = new JsonObject { [ctx.TrackLabel] = "canary" } }),
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
            ["route"] = new JsonArray(Destination(VirtualServiceRoutes.StableSubset, 100), Destination(VirtualServiceRoutes.CanarySubset, 0)),
        });
        return new JsonObject { ["apiVersion"] = Istio.ApiVersion, ["kind"] = "VirtualService", ["metadata"] = Meta(ctx, ctx.VirtualServiceName), ["spec"] = spec };
    }
}

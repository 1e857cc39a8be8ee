using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// Reads and rewrites the weights of the routes that send traffic to one service, on a VirtualService's raw
/// JSON. The rewrite is a JSON patch touching only weights (and, for a route with no canary destination yet,
/// adding one), so that everything else the user wrote stays byte for byte. A destination is the stable one when
/// its subset is the stable subset's name (or it has none), the canary one when it is the canary subset's name.
/// </summary>
public static class VirtualServiceRoutes
{
    internal sealed record Route(int Http, int Stable, int? Canary);

    /// <summary>The weights of the first route to the service; null when no route points at it.</summary>
    public static TrafficWeights? Read(JsonObject virtualService, string service, string ns, RouteSubsets? subsets = null)
    {
        var route = Routes(virtualService, service, ns, subsets ?? RouteSubsets.Default).FirstOrDefault();
        if (route is null) return null;
        var http = virtualService["spec"]!["http"]![route.Http]!["route"]!.AsArray();
        var single = http.Count == 1;
        var stable = (int?)http[route.Stable]!["weight"] ?? (single ? 100 : 0);
        var canary = route.Canary is { } c ? (int?)http[c]!["weight"] ?? 0 : 0;
        return new TrafficWeights(stable, canary);
    }

    /// <summary>A JSON patch setting canary = <paramref name="canaryWeight"/> and stable = the rest on every route to
    /// the service, conditional on the resourceVersion read (a concurrent writer makes it fail with 409).</summary>
    public static JsonArray WeightPatch(JsonObject virtualService, string service, string ns, int canaryWeight, RouteSubsets? subsets = null)
    {
        subsets ??= RouteSubsets.Default;
        var routes = Routes(virtualService, service, ns, subsets).ToList();
        if (routes.Count == 0) throw new InvalidOperationException($"VirtualService {virtualService["metadata"]?["name"]} has no route to service {service}.");
        var patch = JsonPatch.Conditional(virtualService["metadata"]!["resourceVersion"]);
        foreach (var r in routes)
        {
            var destinations = virtualService["spec"]!["http"]![r.Http]!["route"]!.AsArray();
            var stablePath = $"/spec/http/{r.Http}/route/{r.Stable}";
            if ((string?)destinations[r.Stable]!["destination"]!["subset"] is null)
                patch.Add(JsonPatch.Add(stablePath + "/destination/subset", subsets.Stable));
            patch.Add(JsonPatch.Add(stablePath + "/weight", 100 - canaryWeight));
            if (r.Canary is { } c) patch.Add(JsonPatch.Add($"/spec/http/{r.Http}/route/{c}/weight", canaryWeight));
            else
            {
                var canary = (JsonObject)destinations[r.Stable]!.DeepClone();
                canary["destination"]!["subset"] = subsets.Canary;
                canary["weight"] = canaryWeight;
                patch.Add(JsonPatch.Add($"/spec/http/{r.Http}/route/-", canary));
            }
        }
        return patch;
    }

    internal static IEnumerable<Route> Routes(JsonObject vs, string service, string ns, RouteSubsets subsets)
    {
        var http = vs["spec"]?["http"] as JsonArray ?? [];
        var only = subsets.OnlyRoute is { } named && http.Any(h => (string?)h?["name"] == named) ? named : null;
        for (var i = 0; i < http.Count; i++)
        {
            if (only is not null && (string?)http[i]?["name"] != only) continue;
            if ((string?)http[i]?["name"] is { } named2 && named2.EndsWith(Strategies.AffinityRoute.Suffix, StringComparison.Ordinal)) continue; // all-or-nothing, not weighted
            var destinations = http[i]?["route"] as JsonArray ?? [];
            int? stable = null, canary = null;
            for (var j = 0; j < destinations.Count; j++)
            {
                var d = destinations[j]?["destination"];
                if (!IsService((string?)d?["host"], service, ns)) continue;
                var subset = (string?)d?["subset"];
                if (subset == subsets.Canary) canary = j;
                else if (subset is null || subset == subsets.Stable) stable ??= j;
            }
            if (stable is { } s) yield return new Route(i, s, canary);
        }
    }

    /// <summary>Istio accepts the short name and the namespace-qualified names of a service.</summary>
    public static bool IsService(string? host, string service, string ns) =>
        host == service || host == $"{service}.{ns}" || host == $"{service}.{ns}.svc" || host == $"{service}.{ns}.svc.cluster.local";
}

using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing;

namespace CanaryFlow.Controller.Kubernetes.Deletion;

/// <summary>
/// An adopted VirtualService is the user's: on deletion of the Canary it gets back what CanaryFlow changed and
/// nothing else. What the routes to the service looked like is noted once, when the Canary is initialised (before
/// any weight is written): whether the stable destination named a subset and had a weight, and whether there was
/// a canary destination at all. The give-back patch removes what CanaryFlow added and sends 100% to stable.
/// </summary>
public static class AdoptedRoutes
{
    private sealed record Seen(int Http, bool Subset, JsonNode? Weight, bool Canary);

    /// <summary>The routes to the service as they are now (JSON, kept in the Canary's status).</summary>
    public static string Snapshot(JsonObject virtualService, string service, string ns, RouteSubsets? subsets = null)
    {
        var http = virtualService["spec"]?["http"] as JsonArray ?? [];
        var seen = VirtualServiceRoutes.Routes(virtualService, service, ns, subsets ?? RouteSubsets.Default).Select(r =>
        {
            var stable = http[r.Http]!["route"]![r.Stable]!;
            return new JsonObject
            {
                ["http"] = r.Http, ["subset"] = stable["destination"]?["subset"] is not null,
                ["weight"] = stable["weight"]?.DeepClone(), ["canary"] = r.Canary is not null,
            };
        });
        return new JsonArray([.. seen]).ToJsonString();
    }

    /// <summary>A JSON patch (conditional on the resourceVersion read) giving the routes back; only that
    /// condition when there is nothing to give back. Without a snapshot (a Canary adopted by an older
    /// controller) only the weights go back: stable 100, canary 0.</summary>
    public static JsonArray GiveBackPatch(JsonObject virtualService, string service, string ns, string? snapshot, RouteSubsets? subsets = null)
    {
        var seen = Parse(snapshot);
        var patch = JsonPatch.Conditional(virtualService["metadata"]!["resourceVersion"]);
        var http = virtualService["spec"]?["http"] as JsonArray ?? [];
        foreach (var r in VirtualServiceRoutes.Routes(virtualService, service, ns, subsets ?? RouteSubsets.Default))
        {
            var route = http[r.Http]!["route"]!.AsArray();
            var stable = (JsonObject)route[r.Stable]!;
            var before = seen.FirstOrDefault(s => s.Http == r.Http);
            var stablePath = $"/spec/http/{r.Http}/route/{r.Stable}";
            var dropCanary = before is { Canary: false } && r.Canary is not null;
            if (before is { Subset: false } && stable["destination"]?["subset"] is not null)
                patch.Add(JsonPatch.Remove(stablePath + "/destination/subset"));
            // Stable takes everything: alone again, with the weight the user wrote (or none); beside the user's own
            // canary destination, 100. A route CanaryFlow never wrote to (no canary destination) keeps what it has.
            var alone = dropCanary || (r.Canary is null && before is not null);
            if (alone && before!.Weight is null) { if (stable.ContainsKey("weight")) patch.Add(JsonPatch.Remove(stablePath + "/weight")); }
            else if (alone || r.Canary is not null)
            {
                JsonNode weight = alone ? before!.Weight!.DeepClone() : 100;
                if (!JsonNode.DeepEquals(stable["weight"], weight)) patch.Add(JsonPatch.Add(stablePath + "/weight", weight));
            }
            if (r.Canary is { } c)
            {
                var canaryPath = $"/spec/http/{r.Http}/route/{c}";
                if (dropCanary) patch.Add(JsonPatch.Remove(canaryPath)); // last: removing shifts later indices only
                else if ((int?)route[c]!["weight"] != 0) patch.Add(JsonPatch.Add(canaryPath + "/weight", 0));
            }
        }
        return patch;
    }

    private static List<Seen> Parse(string? snapshot)
    {
        if (string.IsNullOrEmpty(snapshot)) return [];
        try
        {
            return (JsonNode.Parse(snapshot) as JsonArray ?? []).OfType<JsonObject>()
                .Select(o => new Seen((int?)o["http"] ?? -1, (bool?)o["subset"] ?? true, o["weight"]?.DeepClone(), (bool?)o["canary"] ?? true)).ToList();
        }
        catch (System.Text.Json.JsonException) { return []; } // a damaged note: give back the weights only
    }

}

using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;

/// <summary>
/// Reads and rewrites the weights of an HTTPRoute's backendRefs to the stable and canary Services, on its raw JSON.
/// The rewrite is a JSON patch of the weights alone (conditional on the resourceVersion read), so every other field
/// of the route stays as it was. Every rule with a backendRef to the stable Service carries the split.
/// </summary>
public static class HttpRouteBackends
{
    private sealed record Rule(int Index, int Stable, int? Canary);

    /// <summary>The split of the first rule that routes to the stable Service; null when none does.</summary>
    /// <param name="matchedOnly">A/B testing: only rules with <c>matches</c> carry the split (the catch-all stays on stable).</param>
    public static TrafficWeights? Read(JsonObject route, string stableService, string canaryService, bool matchedOnly = false)
    {
        var rule = Rules(route, stableService, canaryService, matchedOnly).FirstOrDefault();
        if (rule is null) return null;
        var refs = BackendRefs(route, rule.Index);
        // Gateway API: an absent weight is 1, and a route's weights are relative; ours always add up to 100.
        var stable = (int?)refs[rule.Stable]!["weight"] ?? 1;
        var canary = rule.Canary is { } c ? (int?)refs[c]!["weight"] ?? 1 : 0;
        var total = stable + canary;
        if (total == 0) return new TrafficWeights(100, 0); // no weight anywhere: the route serves nothing; read as "not moved"
        var canaryShare = (int)Math.Round(canary * 100.0 / total);
        return new TrafficWeights(100 - canaryShare, canaryShare);
    }

    /// <summary>A JSON patch setting canary = <paramref name="canaryWeight"/> and stable = the rest on every rule that
    /// routes to the stable Service; a rule without a canary backendRef gets one (a copy of the stable one).</summary>
    public static JsonArray WeightPatch(JsonObject route, string stableService, string canaryService, int canaryWeight, bool matchedOnly = false)
    {
        var rules = Rules(route, stableService, canaryService, matchedOnly).ToList();
        if (rules.Count == 0) throw new InvalidOperationException($"HTTPRoute {route["metadata"]?["name"]} has no backendRef to Service {stableService}.");
        var patch = JsonPatch.Conditional(route["metadata"]!["resourceVersion"]);
        foreach (var r in rules)
        {
            var path = $"/spec/rules/{r.Index}/backendRefs";
            patch.Add(JsonPatch.Add($"{path}/{r.Stable}/weight", 100 - canaryWeight));
            if (r.Canary is { } c) patch.Add(JsonPatch.Add($"{path}/{c}/weight", canaryWeight));
            else
            {
                var canary = (JsonObject)BackendRefs(route, r.Index)[r.Stable]!.DeepClone();
                canary["name"] = canaryService;
                canary["weight"] = canaryWeight;
                patch.Add(JsonPatch.Add($"{path}/-", canary));
            }
        }
        return patch;
    }

    private static JsonArray BackendRefs(JsonObject route, int rule) => route["spec"]!["rules"]![rule]!["backendRefs"]!.AsArray();

    private static IEnumerable<Rule> Rules(JsonObject route, string stableService, string canaryService, bool matchedOnly)
    {
        var rules = route["spec"]?["rules"] as JsonArray ?? [];
        for (var i = 0; i < rules.Count; i++)
        {
            if (matchedOnly && rules[i]?["matches"] is not JsonArray { Count: > 0 }) continue;
            var refs = rules[i]?["backendRefs"] as JsonArray ?? [];
            int? stable = null, canary = null;
            for (var j = 0; j < refs.Count; j++)
            {
                // Only core Services are ours ("" group, kind Service, both the defaults).
                if (refs[j]?["kind"] is JsonValue k && (string?)k != "Service") continue;
                var name = (string?)refs[j]?["name"];
                if (name == stableService) stable ??= j;
                else if (name == canaryService) canary ??= j;
            }
            if (stable is { } s) yield return new Rule(i, s, canary);
        }
    }
}

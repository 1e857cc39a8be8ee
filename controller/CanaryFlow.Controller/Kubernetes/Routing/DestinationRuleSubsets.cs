using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// The user's own DestinationRule, adopted the way Argo Rollouts adopts one for subset-level splitting: the two
/// subsets the Canary names (say v1 and v2) are re-pointed at CanaryFlow's stable and canary pods by replacing
/// their <c>labels</c> with the track label. That is the whole change: a JSON patch, conditional on the
/// resourceVersion read, so the traffic policy, other subsets and metadata stay byte for byte.
/// </summary>
public static class DestinationRuleSubsets
{
    /// <summary>Why the rule cannot be adopted for this Canary, or null.</summary>
    public static string? Problem(CanaryContext ctx, JsonObject? rule)
    {
        var ns = ctx.Target.Namespace;
        var name = $"DestinationRule {ns}/{ctx.DestinationRuleName}";
        if (rule is null) return $"{name} does not exist";
        var host = rule["spec"]?["host"] is JsonValue h && h.TryGetValue<string>(out var text) ? text : null;
        if (!VirtualServiceRoutes.IsService(host, ctx.ServiceName, ns)) return $"{name} is for host '{host}', not service {ctx.ServiceName}";
        var missing = new[] { ctx.Subsets.Stable, ctx.Subsets.Canary }.Where(s => Index(rule, s) is null).ToList();
        return missing.Count == 0 ? null : $"{name} has no subset named {string.Join(" or ", missing.Select(m => $"'{m}'"))}";
    }

    /// <summary>The patch that makes the stable subset select the stable pods and the canary subset the canary
    /// pods; null when they already do.</summary>
    public static JsonArray? LabelPatch(CanaryContext ctx, JsonObject rule)
    {
        var patch = JsonPatch.Conditional(rule["metadata"]?["resourceVersion"]);
        foreach (var (subset, track) in new[] { (ctx.Subsets.Stable, "stable"), (ctx.Subsets.Canary, "canary") })
        {
            var i = Index(rule, subset) ?? throw new InvalidOperationException(Problem(ctx, rule));
            var wanted = new JsonObject { [ctx.TrackLabel] = track };
            if (JsonNode.DeepEquals(rule["spec"]!["subsets"]![i]!["labels"], wanted)) continue;
            // "add" on an object member replaces it when present and creates it when not (RFC 6902).
            patch.Add(JsonPatch.Add($"/spec/subsets/{i}/labels", wanted));
        }
        return patch.Count > 1 ? patch : null;
    }

    private static int? Index(JsonObject rule, string subset)
    {
        var subsets = rule["spec"]?["subsets"] as JsonArray ?? [];
        for (var i = 0; i < subsets.Count; i++)
            if (subsets[i]?["name"] is JsonValue v && v.TryGetValue<string>(out var name) && name == subset) return i;
        return null;
    }
}

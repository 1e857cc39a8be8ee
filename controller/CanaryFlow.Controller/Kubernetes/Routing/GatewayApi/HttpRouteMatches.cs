using System.Text;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Routing.Strategies;

namespace CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;

/// <summary>
/// A/B testing on a Gateway API HTTPRoute: the Canary's <c>analysis.match</c> entries (Istio's form) become the
/// <c>matches</c> of a rule of their own, first in the route CanaryFlow owns, with the same two backendRefs. Only that
/// rule's weights move (stable/canary 100/0 → 0/100 → 100/0); the catch-all rule keeps everyone else on stable. Gateway
/// API has Exact and RegularExpression matches: an Istio <c>prefix</c> becomes the regular expression
/// <c>^&lt;escaped prefix&gt;.*</c>. (Gateway API ranks a rule with header matches above one without, so order is not
/// what makes it win; it is first for people reading the route.)
/// </summary>
public static class HttpRouteMatches
{
    public static bool IsAb(CanaryContext ctx) => AbMatchRoute.Match(ctx) is not null;

    /// <summary>The A/B rule, or null when the Canary is no A/B Canary.</summary>
    public static JsonObject? Rule(CanaryContext ctx)
    {
        if (AbMatchRoute.Match(ctx) is not { } match) return null;
        JsonObject Backend(string name, int weight) => new() { ["name"] = name, ["port"] = ctx.ServicePort, ["weight"] = weight };
        return new JsonObject
        {
            ["matches"] = new JsonArray([.. match.OfType<JsonObject>().Select(m => (JsonNode?)Convert(m))]),
            ["backendRefs"] = new JsonArray(Backend(ctx.StableService(), 100), Backend(ctx.CanaryService(), 0)),
        };
    }

    /// <summary>
    /// A patch (conditional on the route's version) that brings the route's A/B rule in step with the Canary, or null when
    /// it is: inserted when <c>analysis.match</c> was added after the route was made, its matches replaced when they
    /// changed (its weights kept), removed when the Canary is no longer an A/B Canary (the route is CanaryFlow's own).
    /// </summary>
    public static JsonArray? SyncPatch(CanaryContext ctx, JsonObject route)
    {
        var rules = route["spec"]?["rules"] as JsonArray ?? [];
        var existing = rules.Select((r, i) => (Rule: r, Index: i)).FirstOrDefault(x => x.Rule?["matches"] is JsonArray { Count: > 0 });
        var wanted = Rule(ctx);
        var patch = JsonPatch.Conditional(route["metadata"]?["resourceVersion"]);
        if (existing.Rule is null)
        {
            if (wanted is null) return null;
            patch.Add(JsonPatch.Add("/spec/rules/0", wanted));
        }
        else if (wanted is null) patch.Add(JsonPatch.Remove($"/spec/rules/{existing.Index}"));
        else if (Key(existing.Rule["matches"]) == Key(wanted["matches"])) return null;
        else patch.Add(JsonPatch.Add($"/spec/rules/{existing.Index}/matches", wanted["matches"]!.DeepClone()));
        return patch;
    }

    /// <summary>The header and query conditions of a rule's matches, as the server keeps them: Gateway API defaults a
    /// match's path (PathPrefix /) and a condition's type (Exact), so the stored form is compared by what we set.</summary>
    private static string Key(JsonNode? matches) => string.Join(" | ", (matches as JsonArray ?? []).Select(m =>
        string.Join(" ", new[] { "headers", "queryParams" }.SelectMany(kind => (m?[kind] as JsonArray ?? []).Select(c =>
            $"{kind}:{(string?)c?["name"]}:{(string?)c?["type"] ?? "Exact"}:{(string?)c?["value"]}")))));

    /// <summary>One Istio HTTPMatchRequest entry (headers and queryParams) as a Gateway API HTTPRouteMatch.</summary>
    public static JsonObject Convert(JsonObject istio)
    {
        var match = new JsonObject();
        if (istio["headers"] is JsonObject headers && headers.Count > 0) match["headers"] = Conditions(headers);
        if (istio["queryParams"] is JsonObject query && query.Count > 0) match["queryParams"] = Conditions(query);
        return match;
    }

    private static JsonArray Conditions(JsonObject istio) => new([.. istio.Select(p =>
    {
        var (type, value) = p.Value switch
        {
            JsonObject c when (string?)c["exact"] is { } exact => ("Exact", exact),
            JsonObject c when (string?)c["prefix"] is { } prefix => ("RegularExpression", "^" + Escape(prefix) + ".*"),
            JsonObject c when (string?)c["regex"] is { } regex => ("RegularExpression", regex),
            _ => throw new InvalidOperationException($"match condition '{p.Key}' has none of exact, prefix, regex"),
        };
        return (JsonNode?)new JsonObject { ["name"] = p.Key, ["type"] = type, ["value"] = value };
    })]);

    /// <summary>Escapes RE2's metacharacters only (a wider escape, such as .NET's of spaces, is not RE2).</summary>
    private static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var ch in text)
        {
            if (@"\.+*?()|[]{}^$".Contains(ch)) sb.Append('\\');
            sb.Append(ch);
        }
        return sb.ToString();
    }
}

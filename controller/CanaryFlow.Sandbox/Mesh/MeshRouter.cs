using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Sandbox.Mesh;

/// <summary>
/// The sandbox's data plane: decides, for one request to a service, which version answers, as Istio would from the
/// VirtualService (HTTP routes in order, the first whose <c>match</c> holds; headers exact/prefix/regex, query params;
/// weights; <c>mirror</c> with <c>mirrorPercentage</c>; response headers such as Set-Cookie), or a Gateway API HTTPRoute
/// (rules with header/query matches, backendRef weights to <c>&lt;svc&gt;-primary</c>/<c>&lt;svc&gt;-canary</c>).
/// Weighted and mirrored shares are spread evenly and deterministically (request n goes to the canary when the running
/// quota grows), so that tests can count exactly. A destination whose subset is not the canary subset is stable.
/// </summary>
public sealed class MeshRouter(ObjectStore store, string ns, string canarySubset = "canary")
{
    private readonly Dictionary<string, long> _counters = [];
    private readonly Lock _gate = new();

    public MeshDecision Route(string service, MeshRequest request)
    {
        var (items, _) = store.List(ResourceKinds.HttpRoutes, ns, LabelSelector.Parse(null));
        foreach (var route in items)
            if (FromHttpRoute(route, service, request) is { } decision) return decision;
        (items, _) = store.List(ResourceKinds.VirtualServices, ns, LabelSelector.Parse(null));
        foreach (var vs in items)
            if (FromVirtualService(vs, service, request) is { } decision) return decision;
        return new MeshDecision(Track.Stable, null, []); // no routing yet: the Service reaches the stable pods
    }

    private MeshDecision? FromVirtualService(JsonObject vs, string service, MeshRequest request)
    {
        var http = vs["spec"]?["http"] as JsonArray ?? [];
        for (var i = 0; i < http.Count; i++)
        {
            var destinations = (http[i]?["route"] as JsonArray ?? []).OfType<JsonObject>()
                .Where(d => IsHost((string?)d["destination"]?["host"], service)).ToList();
            if (destinations.Count == 0 || !Matches(http[i]?["match"] as JsonArray, request, istio: true)) continue;
            var key = $"vs/{vs["metadata"]?["name"]}/{i}";
            var canaryWeight = destinations.Where(d => (string?)d["destination"]?["subset"] == canarySubset).Sum(d => Weight(d, destinations.Count));
            var total = destinations.Sum(d => Weight(d, destinations.Count));
            var answered = Pick(key, total == 0 ? 0 : canaryWeight * 100.0 / total);
            var chosen = destinations.FirstOrDefault(d => TrackOf(d) == answered);
            Track? mirrored = null;
            if (http[i]?["mirror"] is JsonObject mirror && IsHost((string?)mirror["host"], service))
            {
                var percent = (double?)http[i]?["mirrorPercentage"]?["value"] ?? 100;
                if (Pick(key + "/mirror", percent) == Track.Canary)
                    mirrored = (string?)mirror["subset"] == canarySubset ? Track.Canary : Track.Stable;
            }
            var cookies = SetCookies(http[i]?["headers"]).Concat(SetCookies(chosen?["headers"])).ToList();
            return new MeshDecision(answered, mirrored, cookies);
        }
        return null;
    }

    private MeshDecision? FromHttpRoute(JsonObject route, string service, MeshRequest request)
    {
        var rules = route["spec"]?["rules"] as JsonArray ?? [];
        for (var i = 0; i < rules.Count; i++)
        {
            var refs = (rules[i]?["backendRefs"] as JsonArray ?? []).OfType<JsonObject>()
                .Where(r => (string?)r["name"] is { } n && (n == service + "-primary" || n == service + "-canary")).ToList();
            if (refs.Count == 0 || !Matches(rules[i]?["matches"] as JsonArray, request, istio: false)) continue;
            // Gateway API: an absent weight is 1.
            var canary = refs.Where(r => (string?)r["name"] == service + "-canary").Sum(r => (int?)r["weight"] ?? 1);
            var total = refs.Sum(r => (int?)r["weight"] ?? 1);
            return new MeshDecision(Pick($"route/{route["metadata"]?["name"]}/{i}", total == 0 ? 0 : canary * 100.0 / total), null, []);
        }
        return null;
    }

    private Track TrackOf(JsonObject destination) => (string?)destination["destination"]?["subset"] == canarySubset ? Track.Canary : Track.Stable;

    private static int Weight(JsonObject destination, int count) => (int?)destination["weight"] ?? (count == 1 ? 100 : 0);

    /// <summary>Request n of this route goes to the canary when floor(n * percent / 100) grows: an even, exact split.</summary>
    private Track Pick(string key, double canaryPercent)
    {
        lock (_gate)
        {
            var n = _counters.GetValueOrDefault(key) + 1;
            _counters[key] = n;
            return Math.Floor(n * canaryPercent / 100) > Math.Floor((n - 1) * canaryPercent / 100) ? Track.Canary : Track.Stable;
        }
    }

    private static IEnumerable<string> SetCookies(JsonNode? headers)
    {
        foreach (var op in new[] { "add", "set" })
            if (headers?["response"]?[op] is JsonObject values)
                foreach (var (name, value) in values)
                    if (name.Equals("set-cookie", StringComparison.OrdinalIgnoreCase) && (string?)value is { } v) yield return v;
    }

    /// <summary>No match list matches everything; otherwise any one entry, all of whose conditions hold.</summary>
    private static bool Matches(JsonArray? matches, MeshRequest request, bool istio) =>
        matches is not { Count: > 0 } || matches.OfType<JsonObject>().Any(m => istio ? IstioMatch(m, request) : GatewayMatch(m, request));

    private static bool IstioMatch(JsonObject match, MeshRequest request)
    {
        foreach (var (name, condition) in match["headers"] as JsonObject ?? [])
            if (!StringMatch(condition, request.Header(name))) return false;
        foreach (var (name, condition) in match["queryParams"] as JsonObject ?? [])
            if (!StringMatch(condition, request.Query?.GetValueOrDefault(name))) return false;
        return true;
    }

    private static bool GatewayMatch(JsonObject match, MeshRequest request)
    {
        foreach (var h in (match["headers"] as JsonArray ?? []).OfType<JsonObject>())
            if (!TypedMatch(h, request.Header((string?)h["name"] ?? ""))) return false;
        foreach (var q in (match["queryParams"] as JsonArray ?? []).OfType<JsonObject>())
            if (!TypedMatch(q, request.Query?.GetValueOrDefault((string?)q["name"] ?? ""))) return false;
        return true;
    }

    private static bool TypedMatch(JsonObject condition, string? value) =>
        value is not null && ((string?)condition["type"] == "RegularExpression"
            // Envoy (Istio's and most gateways' data plane) matches a header regex against the whole value.
            ? Regex.IsMatch(value, $"^(?:{(string?)condition["value"] ?? ""})$", RegexOptions.None, TimeSpan.FromSeconds(1))
            : value == (string?)condition["value"]);

    /// <summary>Istio's StringMatch: exact, prefix or regex (RE2, whole string: anchored here).</summary>
    private static bool StringMatch(JsonNode? condition, string? value)
    {
        if (value is null) return false;
        if ((string?)condition?["exact"] is { } exact) return value == exact;
        if ((string?)condition?["prefix"] is { } prefix) return value.StartsWith(prefix, StringComparison.Ordinal);
        if ((string?)condition?["regex"] is { } regex) return Regex.IsMatch(value, $"^(?:{regex})$", RegexOptions.None, TimeSpan.FromSeconds(1));
        return false;
    }

    private bool IsHost(string? host, string service) =>
        host == service || host == $"{service}.{ns}" || host == $"{service}.{ns}.svc" || host == $"{service}.{ns}.svc.cluster.local";
}

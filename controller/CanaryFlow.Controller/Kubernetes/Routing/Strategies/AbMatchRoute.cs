using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Routing.Strategies;

/// <summary>
/// A/B testing on Istio HTTP matches (<c>analysis.match</c>), as Flagger does it: a route of CanaryFlow's own, named
/// <c>&lt;target&gt;-canaryflow-ab</c>, is inserted just before the first route to the service. It is a copy of that
/// route (same destinations, retries, timeouts) whose match is the user's route's match AND one of the Canary's
/// entries, so only matching requests reach it. The weights are written on that route alone (see
/// <see cref="RouteSubsets.OnlyRoute"/>); the catch-all route keeps sending everyone else to stable. In an adopted
/// VirtualService the insertion is the whole change: every other route stays byte for byte, and on deletion of the
/// Canary the inserted route is removed first; once <c>match</c> is taken out of the spec, the next weight write removes it.
/// </summary>
public sealed class AbMatchRoute(CanaryApi api)
{
    private const int MaxAttempts = 5;

    public static string Name(CanaryContext ctx) => $"{ctx.Target.Name}-canaryflow-ab";

    /// <summary>The Canary's match entries, or null when it is no A/B Canary.</summary>
    public static JsonArray? Match(CanaryContext ctx) =>
        ctx.Canary.Spec?.Analysis?.Match is { Count: > 0 } match ? new JsonArray([.. match.Select(m => (JsonNode?)m.DeepClone())]) : null;

    /// <summary>Inserts the match route, or brings its match up to date with the spec (conditional writes; 409 re-reads).</summary>
    public async Task EnsureAsync(CanaryContext ctx, CancellationToken ct)
    {
        if (Match(ctx) is not { } match) return;
        for (var attempt = 1; ; attempt++)
        {
            var vs = await GetAsync(ctx, ct);
            if (vs is null || Patch(vs, ctx, match) is not { } patch) return;
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, patch, ct);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    /// <summary>Removes the match route once <c>analysis.match</c> is taken out of the spec, if <paramref name="seen"/> (the
    /// VirtualService as just read) still has it. Meanwhile it only carried the same weights as the route after it.</summary>
    public async Task RemoveIfUnwantedAsync(CanaryContext ctx, JsonObject seen, CancellationToken ct)
    {
        if (Match(ctx) is null && Index(seen, Name(ctx)) is not null) await RemoveAsync(ctx, ct);
    }

    /// <summary>Removes the inserted route (deletion of the Canary, or A/B testing taken out of its spec), so that the
    /// VirtualService is the user's again.</summary>
    public async Task<bool> RemoveAsync(CanaryContext ctx, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var vs = await GetAsync(ctx, ct);
            if (vs is null || Index(vs, Name(ctx)) is not { } i) return false;
            var patch = JsonPatch.Conditional(vs["metadata"]!["resourceVersion"]);
            patch.Add(JsonPatch.Remove($"/spec/http/{i}"));
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, patch, ct);
                return true;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    /// <summary>The patch that makes the match route exist with the Canary's match; null when it already does.</summary>
    public static JsonArray? Patch(JsonObject vs, CanaryContext ctx, JsonArray match)
    {
        var http = vs["spec"]?["http"] as JsonArray ?? [];
        var patch = JsonPatch.Conditional(vs["metadata"]!["resourceVersion"]);
        var all = ctx.Subsets with { OnlyRoute = null };
        var first = VirtualServiceRoutes.Routes(vs, ctx.ServiceName, ctx.Target.Namespace, all).FirstOrDefault(r => (string?)http[r.Http]?["name"] != Name(ctx));
        if (Index(vs, Name(ctx)) is { } existing)
        {
            // The user's route it was copied from is the one just after it.
            var userMatch = existing + 1 < http.Count ? http[existing + 1]?["match"] as JsonArray : null;
            var wanted = Combine(userMatch, match);
            if (JsonNode.DeepEquals(http[existing]!["match"], wanted)) return null;
            patch.Add(JsonPatch.Add($"/spec/http/{existing}/match", wanted));
            return patch;
        }
        if (first is null) return null; // no route to the service: the weights' own check reports it
        var copy = (JsonObject)http[first.Http]!.DeepClone();
        copy["name"] = Name(ctx);
        copy["match"] = Combine(http[first.Http]?["match"] as JsonArray, match);
        var destinations = copy["route"]!.AsArray();
        destinations[first.Stable]!["weight"] = 100;
        destinations[first.Stable]!["destination"]!["subset"] = ctx.Subsets.Stable;
        if (first.Canary is { } c) destinations[c]!["weight"] = 0;
        else
        {
            var canary = destinations[first.Stable]!.DeepClone();
            canary["destination"]!["subset"] = ctx.Subsets.Canary;
            canary["weight"] = 0;
            destinations.Add(canary);
        }
        patch.Add(JsonPatch.Add($"/spec/http/{first.Http}", copy));
        return patch;
    }

    /// <summary>Istio ORs a route's match entries and ANDs the fields inside one: the user's route match AND the Canary's
    /// is every pair of entries merged (the Canary's headers and query params added to the user's).</summary>
    internal static JsonArray Combine(JsonArray? user, JsonArray canary)
    {
        if (user is not { Count: > 0 }) return (JsonArray)canary.DeepClone();
        var all = new JsonArray();
        foreach (var u in user.OfType<JsonObject>())
            foreach (var a in canary.OfType<JsonObject>())
            {
                var merged = (JsonObject)u.DeepClone();
                foreach (var (field, value) in a)
                {
                    if (value is JsonObject map && merged[field] is JsonObject mine)
                        foreach (var (k, v) in map) mine[k] = v?.DeepClone();
                    else merged[field] = value?.DeepClone();
                }
                all.Add(merged);
            }
        return all;
    }

    private static int? Index(JsonObject vs, string name)
    {
        var http = vs["spec"]?["http"] as JsonArray ?? [];
        for (var i = 0; i < http.Count; i++) if ((string?)http[i]?["name"] == name) return i;
        return null;
    }

    private Task<JsonObject?> GetAsync(CanaryContext ctx, CancellationToken ct) =>
        api.GetCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, ct);
}

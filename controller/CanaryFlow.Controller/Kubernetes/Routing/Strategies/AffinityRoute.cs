using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Routing.Strategies;

/// <summary>
/// Session affinity (<c>analysis.sessionAffinity</c>), as Flagger does it on Istio: the canary destination of the
/// weighted routes answers with <c>Set-Cookie: &lt;cookieName&gt;=&lt;revision&gt;; Max-Age=&lt;maxAge&gt;</c>, and a route
/// of CanaryFlow's own, <c>&lt;target&gt;-canaryflow-affinity</c>, inserted before the first route to the service, sends
/// every request carrying that cookie to the canary while the canary has any weight. So a user the weights once sent to
/// the canary stays there, and nobody flips back and forth as the weights move. The cookie's value is the canary's
/// revision: a cookie from an earlier release matches nothing. At weight 0 (rollback, or after promotion) the route sends
/// cookie holders to stable like everyone else. Once <c>sessionAffinity</c> is taken out of the spec, the next weight
/// write removes the route and the canary's Set-Cookie (as deletion of the Canary does): left as it was, the route would
/// keep its cookie holders on the canary whatever the weights say, even after a rollback scaled the canary to zero.
/// </summary>
public sealed class AffinityRoute(CanaryApi api, Deployments deployments)
{
    public const string Suffix = "-canaryflow-affinity";

    /// <summary>The cookie header's regular expression up to the cookie: any cookies before it, then "name=revision".</summary>
    private const string CookieRegexStart = "^(.*?;\\s*)?(";
    private const int MaxAttempts = 5;

    public static string Name(CanaryContext ctx) => ctx.Target.Name + Suffix;

    public static bool Enabled(CanaryContext ctx) => ctx.Canary.Spec?.Analysis?.SessionAffinity?.CookieName is { Length: > 0 };

    /// <summary>Brings the affinity route and the canary's Set-Cookie in line with the weight (conditional writes; 409 re-reads).</summary>
    public async Task ApplyAsync(CanaryContext ctx, int canaryWeight, CancellationToken ct)
    {
        if (!Enabled(ctx)) return;
        var target = await deployments.TryReadAsync(ctx.Target.Namespace, ctx.Target.Name, ct);
        if (target is null) return;
        var revision = PodTemplateHash.Compute(target.Spec.Template, ctx.TrackLabel);
        for (var attempt = 1; ; attempt++)
        {
            var vs = await api.GetCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, ct);
            if (vs is null || Patch(vs, ctx, canaryWeight, revision) is not { } patch) return;
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, patch, ct);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    /// <summary>The patch that makes the VirtualService route as wanted at this weight; null when it already does.</summary>
    public static JsonArray? Patch(JsonObject vs, CanaryContext ctx, int canaryWeight, string revision)
    {
        var affinity = ctx.Canary.Spec!.Analysis!.SessionAffinity!;
        var cookie = $"{affinity.CookieName}={revision}";
        var setCookie = $"{cookie}; Max-Age={affinity.MaxAge ?? 86400}";
        var http = vs["spec"]?["http"] as JsonArray ?? [];
        var routes = VirtualServiceRoutes.Routes(vs, ctx.ServiceName, ctx.Target.Namespace, ctx.Subsets).ToList(); // never the affinity route
        if (routes.Count == 0) return null;
        var patch = JsonPatch.Conditional(vs["metadata"]!["resourceVersion"]);

        // Set-Cookie on every canary destination of the weighted routes (they carry one once a weight was written).
        foreach (var r in routes)
        {
            if (r.Canary is not { } c) continue;
            var destination = http[r.Http]!["route"]![c]!;
            if ((string?)destination["headers"]?["response"]?["add"]?["Set-Cookie"] == setCookie) continue;
            var headers = destination["headers"] as JsonObject is { } h ? (JsonObject)h.DeepClone() : new JsonObject();
            if (headers["response"] is not JsonObject response) headers["response"] = response = new JsonObject();
            if (response["add"] is not JsonObject add) response["add"] = add = new JsonObject();
            add["Set-Cookie"] = setCookie;
            patch.Add(JsonPatch.Add($"/spec/http/{r.Http}/route/{c}/headers", headers));
        }

        // The cookie holders' route, rebuilt from the first route to the service; inserted or replaced last (an insert shifts indices).
        var first = routes[0];
        var wanted = (JsonObject)http[first.Http]!.DeepClone();
        wanted["name"] = Name(ctx);
        wanted["match"] = AbMatchRoute.Combine(http[first.Http]?["match"] as JsonArray,
            new JsonArray(new JsonObject { ["headers"] = new JsonObject { ["cookie"] = new JsonObject { ["regex"] = $"{CookieRegexStart}{cookie})(;.*)?$" } } }));
        var destinations = wanted["route"]!.AsArray();
        if (first.Canary is null) return patch.Count > 1 ? patch : null; // no canary destination yet: nothing to keep anyone on
        foreach (var d in destinations.OfType<JsonObject>()) d.Remove("headers");
        destinations[first.Stable]!["weight"] = canaryWeight > 0 ? 0 : 100;
        destinations[first.Canary.Value]!["weight"] = canaryWeight > 0 ? 100 : 0;
        var existing = Index(http, Name(ctx));
        if (existing is { } i)
        {
            if (!JsonNode.DeepEquals(http[i], wanted)) patch.Add(JsonPatch.Replace($"/spec/http/{i}", wanted));
        }
        else patch.Add(JsonPatch.Add($"/spec/http/{first.Http}", wanted));
        return patch.Count > 1 ? patch : null;
    }

    /// <summary>Removes the route and its Set-Cookie once <c>sessionAffinity</c> is taken out of the spec, if
    /// <paramref name="seen"/> (the VirtualService as just read) still has the route.</summary>
    public async Task RemoveIfUnwantedAsync(CanaryContext ctx, JsonObject seen, CancellationToken ct)
    {
        if (!Enabled(ctx) && Index(seen["spec"]?["http"] as JsonArray ?? [], Name(ctx)) is not null) await RemoveAsync(ctx, ct);
    }

    /// <summary>Removes the affinity route and the Set-Cookie it matches (deletion of the Canary, or affinity taken out of its spec).</summary>
    public async Task<bool> RemoveAsync(CanaryContext ctx, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var vs = await api.GetCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, ct);
            if (vs is null || RemovalPatch(vs, ctx) is not { } patch) return false;
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, patch, ct);
                return true;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    /// <summary>The patch that removes the affinity route and, where <see cref="Patch"/> put it (the canary destination of
    /// each weighted route to the service), the Set-Cookie of the cookie the route matches: the whole <c>headers</c> when
    /// that was all of it, as before the route was added. Null without the route.</summary>
    public static JsonArray? RemovalPatch(JsonObject vs, CanaryContext ctx)
    {
        var http = vs["spec"]?["http"] as JsonArray ?? [];
        if (Index(http, Name(ctx)) is not { } route) return null;
        var patch = JsonPatch.Conditional(vs["metadata"]!["resourceVersion"]);
        if (CookieName(http[route]) is { } cookie)
            foreach (var r in VirtualServiceRoutes.Routes(vs, ctx.ServiceName, ctx.Target.Namespace, ctx.Subsets))
            {
                if (r.Canary is not { } c) continue;
                var headers = http[r.Http]!["route"]![c]!["headers"] as JsonObject;
                var add = headers?["response"]?["add"] as JsonObject;
                if (add?["Set-Cookie"] is not JsonValue set || !((string?)set ?? "").StartsWith(cookie + "=", StringComparison.Ordinal)) continue;
                var onlyOurs = add.Count == 1 && headers!.Count == 1 && ((JsonObject)headers["response"]!).Count == 1;
                patch.Add(JsonPatch.Remove($"/spec/http/{r.Http}/route/{c}/headers" + (onlyOurs ? "" : "/response/add/Set-Cookie")));
            }
        patch.Add(JsonPatch.Remove($"/spec/http/{route}")); // last: it shifts the routes after it
        return patch;
    }

    /// <summary>The cookie's name, from the route's match as <see cref="Patch"/> writes it: <c>^(.*?;\s*)?(name=revision)(;.*)?$</c>.</summary>
    private static string? CookieName(JsonNode? route)
    {
        var regex = (string?)route?["match"]?[0]?["headers"]?["cookie"]?["regex"];
        if (regex is null || !regex.StartsWith(CookieRegexStart, StringComparison.Ordinal)) return null;
        var end = regex.IndexOf('=', CookieRegexStart.Length);
        return end > CookieRegexStart.Length ? regex[CookieRegexStart.Length..end] : null;
    }

    private static int? Index(JsonArray http, string name)
    {
        for (var i = 0; i < http.Count; i++) if ((string?)http[i]?["name"] == name) return i;
        return null;
    }
}

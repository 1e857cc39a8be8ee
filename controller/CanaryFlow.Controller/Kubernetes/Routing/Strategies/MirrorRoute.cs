using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Routing.Strategies;

/// <summary>
/// Traffic mirroring (<c>analysis.mirror</c>) on Istio: during the plan's mirroring steps (canary weight 0) every route
/// to the service carries <c>mirror: {host: service, subset: canary}</c> and <c>mirrorPercentage</c>, so the canary gets a
/// copy of stable's requests; Istio sends the copies and drops their responses, so users only ever see stable's. Any
/// other step removes the mirror again (only CanaryFlow's own: a mirror to another host or subset is left alone).
/// </summary>
public sealed class MirrorRoute(CanaryApi api)
{
    private const int MaxAttempts = 5;

    public async Task ApplyAsync(CanaryContext ctx, bool mirror, CancellationToken ct)
    {
        if (ctx.Canary.Spec?.Analysis?.Mirror is not { } spec) return; // never mirrored: nothing to add or take away
        for (var attempt = 1; ; attempt++)
        {
            var vs = await api.GetCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, ct);
            if (vs is null || Patch(vs, ctx, mirror ? spec.Percentage ?? 100 : null) is not { } patch) return;
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, patch, ct);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    /// <summary>The patch that mirrors <paramref name="percentage"/>% to the canary on every route to the service (null
    /// percentage: no mirror of CanaryFlow's); null when the routes already are so.</summary>
    public static JsonArray? Patch(JsonObject vs, CanaryContext ctx, double? percentage)
    {
        var http = vs["spec"]?["http"] as JsonArray ?? [];
        var patch = JsonPatch.Conditional(vs["metadata"]!["resourceVersion"]);
        foreach (var r in VirtualServiceRoutes.Routes(vs, ctx.ServiceName, ctx.Target.Namespace, ctx.Subsets))
        {
            var route = http[r.Http]!.AsObject();
            var ours = route["mirror"] is JsonObject m && (string?)m["subset"] == ctx.Subsets.Canary
                       && VirtualServiceRoutes.IsService((string?)m["host"], ctx.ServiceName, ctx.Target.Namespace);
            if (percentage is { } p)
            {
                var mirror = new JsonObject { ["host"] = ctx.ServiceName, ["subset"] = ctx.Subsets.Canary };
                var share = new JsonObject { ["value"] = p };
                if (!JsonNode.DeepEquals(route["mirror"], mirror)) patch.Add(JsonPatch.Add($"/spec/http/{r.Http}/mirror", mirror));
                if (!JsonNode.DeepEquals(route["mirrorPercentage"], share)) patch.Add(JsonPatch.Add($"/spec/http/{r.Http}/mirrorPercentage", share));
            }
            else if (ours)
            {
                patch.Add(JsonPatch.Remove($"/spec/http/{r.Http}/mirror"));
                if (route.ContainsKey("mirrorPercentage")) patch.Add(JsonPatch.Remove($"/spec/http/{r.Http}/mirrorPercentage"));
            }
        }
        return patch.Count > 1 ? patch : null;
    }
}

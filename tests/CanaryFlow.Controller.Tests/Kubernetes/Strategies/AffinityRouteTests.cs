using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Kubernetes.Routing.Strategies;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>What session affinity writes into the VirtualService, on the sandbox and on the real kube-apiserver.</summary>
public abstract class AffinityRouteContract(KubeServer server) : TwoServerTest(server)
{
    private ITrafficRouter Router => Host.Get<ITrafficRouter>();

    /// <summary>A Canary with session affinity (cookie canary-pod), its target at a new revision.</summary>
    private async Task<RolloutTarget> AffinityCanaryWithNewRevisionAsync()
    {
        var target = await Host.InitializedAsync(new JsonObject
        {
            ["analysis"] = new JsonObject
            {
                ["progressDeadlineSeconds"] = 5, ["interval"] = "1s", ["stepWeight"] = 10,
                ["sessionAffinity"] = new JsonObject { ["cookieName"] = "canary-pod", ["maxAge"] = 120 },
            },
        });
        await Host.SetImageAsync("podinfo", "podinfo:2");
        return target;
    }

    [Fact]
    public async Task While_the_canary_has_weight_its_cookie_holders_are_routed_to_it_and_at_zero_back_to_stable()
    {
        var target = await AffinityCanaryWithNewRevisionAsync();
        var revision = await Host.RevisionAsync("podinfo");

        await Router.SetWeightsAsync(target, 30, default);

        var http = (await Host.GetCustomAsync(Istio.VirtualServices, "podinfo"))["spec"]!["http"]!.AsArray();
        Assert.Equal(2, http.Count);
        Assert.Equal("podinfo-canaryflow-affinity", (string?)http[0]!["name"]);
        Assert.Equal($"^(.*?;\\s*)?(canary-pod={revision})(;.*)?$", (string?)http[0]!["match"]![0]!["headers"]!["cookie"]!["regex"]);
        Assert.Equal([0, 100], http[0]!["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
        Assert.Equal([70, 30], http[1]!["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
        Assert.Equal($"canary-pod={revision}; Max-Age=120", (string?)http[1]!["route"]![1]!["headers"]!["response"]!["add"]!["Set-Cookie"]);
        Assert.Equal(new TrafficWeights(70, 30), await Router.GetWeightsAsync(target, default));

        await Router.SetWeightsAsync(target, 0, default);

        http = (await Host.GetCustomAsync(Istio.VirtualServices, "podinfo"))["spec"]!["http"]!.AsArray();
        Assert.Equal([100, 0], http[0]!["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
        Assert.Equal([100, 0], http[1]!["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
    }

    [Fact]
    public async Task Taking_session_affinity_out_of_the_spec_removes_its_route_and_cookie_at_the_next_weight_write()
    {
        var target = await AffinityCanaryWithNewRevisionAsync();
        await Router.SetWeightsAsync(target, 30, default);
        Assert.Equal(2, (await Host.GetCustomAsync(Istio.VirtualServices, "podinfo"))["spec"]!["http"]!.AsArray().Count);

        await Host.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"analysis":{"sessionAffinity":null}}}""", V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo");
        await Router.SetWeightsAsync(target, 0, default);

        // Left in place, the route would keep its cookie holders on the canary at weight 0, after a rollback too.
        var http = (await Host.GetCustomAsync(Istio.VirtualServices, "podinfo"))["spec"]!["http"]!.AsArray();
        var route = Assert.Single(http);
        Assert.Null((string?)route!["name"]);
        Assert.Equal([100, 0], route["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
        Assert.All(route["route"]!.AsArray(), d => Assert.Null(d!["headers"])); // the Set-Cookie went with it, as it was before
    }
}

public sealed class AffinityRouteOnSandbox() : AffinityRouteContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class AffinityRouteOnRealServer() : AffinityRouteContract(KubeServer.Real);

/// <summary>The affinity route's removal (Canary deleted, or affinity taken out of its spec) on raw JSON: an adopted
/// VirtualService whose route already had a canary destination of the user's own.</summary>
public sealed class AffinityRouteRemovalTests
{
    private static CanaryContext Context() => CanaryContext.From(CanaryResource.FromObject(JsonNode.Parse("""
        {"metadata":{"name":"checkout","namespace":"shop"},"spec":{"targetRef":{"name":"checkout"},"service":{"port":80},
         "virtualService":{"name":"checkout"}}}
        """)!), "canaryflow.dev/track");

    [Fact]
    public void Removal_takes_the_route_and_the_canarys_Set_Cookie_and_leaves_the_users_own_headers()
    {
        var vs = JsonNode.Parse("""
            {"metadata":{"name":"checkout","resourceVersion":"9"},"spec":{"hosts":["checkout"],"http":[
              {"name":"checkout-canaryflow-affinity","match":[{"headers":{"cookie":{"regex":"^(.*?;\\s*)?(shop-v=abc123)(;.*)?$"}}}],
               "route":[{"destination":{"host":"checkout","subset":"stable"},"weight":0},{"destination":{"host":"checkout","subset":"canary"},"weight":100}]},
              {"route":[{"destination":{"host":"checkout","subset":"stable"},"weight":70},
                        {"destination":{"host":"checkout","subset":"canary"},"weight":30,
                         "headers":{"response":{"add":{"Set-Cookie":"shop-v=abc123; Max-Age=600","x-served-by":"canary"}}}}]},
              {"match":[{"uri":{"prefix":"/api"}}],"route":[{"destination":{"host":"checkout","subset":"stable"},"weight":70},
                        {"destination":{"host":"checkout","subset":"canary"},"weight":30,
                         "headers":{"response":{"add":{"Set-Cookie":"shop-v=abc123; Max-Age=600"}}}}]},
              {"route":[{"destination":{"host":"checkout","subset":"stable"},"weight":70},
                        {"destination":{"host":"checkout","subset":"canary"},"weight":30,
                         "headers":{"response":{"add":{"Set-Cookie":"session=users-own"}}}}]},
              {"route":[{"destination":{"host":"other"},
                         "headers":{"response":{"add":{"Set-Cookie":"shop-v=abc123; Max-Age=600"}}}}]}]}}
            """)!.AsObject();

        var patch = AffinityRoute.RemovalPatch(vs, Context())!;
        var after = CanaryFlow.Sandbox.Kubernetes.JsonPatching.ApplyJsonPatch(vs, patch)["spec"]!["http"]!.AsArray();

        Assert.Equal(4, after.Count);
        Assert.Equal("""{"response":{"add":{"x-served-by":"canary"}}}""", after[0]!["route"]![1]!["headers"]!.ToJsonString()); // the user's header stays
        Assert.Null(after[1]!["route"]![1]!["headers"]); // CanaryFlow's alone: headers as before it was added
        Assert.Equal("session=users-own", (string?)after[2]!["route"]![1]!["headers"]!["response"]!["add"]!["Set-Cookie"]); // another cookie: not ours
        Assert.NotNull(after[3]!["route"]![0]!["headers"]); // another service's route: not ours whatever it sets
        Assert.Null(AffinityRoute.RemovalPatch(CanaryFlow.Sandbox.Kubernetes.JsonPatching.ApplyJsonPatch(vs, patch).AsObject(), Context()));
    }
}

using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>
/// The Gateway API router, chosen per Canary by <c>spec.provider: gatewayapi</c>, through the controller's own
/// <see cref="ITrafficRouter"/> (the one the workers get) and the Deployment watch, on the sandbox and on the real
/// kube-apiserver (with a minimal HTTPRoute CRD, as the Istio ones).
/// </summary>
public abstract class GatewayApiRouterContract(KubeServer server) : TwoServerTest(server)
{
    private ITrafficRouter Router => Host.Get<ITrafficRouter>();

    private static JsonObject GatewaySpec(JsonArray? gatewayRefs = null)
    {
        var service = new JsonObject { ["port"] = 8080 };
        if (gatewayRefs is not null) service["gatewayRefs"] = gatewayRefs;
        return new JsonObject { ["provider"] = "gatewayapi", ["service"] = service };
    }

    private Task<JsonObject> RouteAsync(string name = "podinfo") => Host.GetCustomAsync(GatewayApi.HttpRoutes, name, GatewayApi.Group, GatewayApi.Version);

    [Fact]
    public async Task A_gatewayapi_Canary_gets_a_Service_per_side_and_an_HTTPRoute_with_all_traffic_on_the_primary_and_no_VirtualService()
    {
        var target = await Host.InitializedAsync(GatewaySpec(new JsonArray(new JsonObject { ["name"] = "public", ["namespace"] = "gateways" })));

        var route = await RouteAsync();
        Assert.Equal("""[{"name":"public","namespace":"gateways"}]""", route["spec"]!["parentRefs"]!.ToJsonString());
        Assert.Equal("""[{"name":"podinfo-primary","port":8080,"weight":100},{"name":"podinfo-canary","port":8080,"weight":0}]""",
            route["spec"]!["rules"]![0]!["backendRefs"]!.ToJsonString());
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));

        var primary = await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo-primary", Ns);
        var canary = await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo-canary", Ns);
        Assert.Equal(new Dictionary<string, string> { ["canaryflow.dev/target"] = "podinfo", ["canaryflow.dev/track"] = "stable" }, primary.Spec.Selector);
        Assert.Equal(new Dictionary<string, string> { ["canaryflow.dev/target"] = "podinfo", ["canaryflow.dev/track"] = "canary" }, canary.Spec.Selector);
        Assert.False(await ExistsAsync(Istio.VirtualServices, "podinfo", Istio.Group, Istio.Version));
        Assert.False(await ExistsAsync(Istio.DestinationRules, "podinfo", Istio.Group, Istio.Version));
    }

    [Fact]
    public async Task Without_gatewayRefs_the_route_is_a_GAMMA_mesh_route_whose_parent_is_the_service()
    {
        await Host.InitializedAsync(GatewaySpec());

        Assert.Equal("""[{"group":"","kind":"Service","name":"podinfo","port":8080}]""", (await RouteAsync())["spec"]!["parentRefs"]!.ToJsonString());
        Assert.Equal("podinfo", (await Host.Client.CoreV1.ReadNamespacedServiceAsync("podinfo", Ns)).Spec.Selector["canaryflow.dev/target"]);
    }

    [Fact]
    public async Task The_router_writes_the_backendRef_weights_reads_them_back_and_leaves_the_rest_of_the_route_as_it_was()
    {
        var target = await Host.InitializedAsync(GatewaySpec());
        var before = await RouteAsync();

        Assert.Equal(new TrafficWeights(100, 0), await Router.SetWeightsAsync(target, 30, default));
        Assert.Equal(new TrafficWeights(70, 30), await Router.GetWeightsAsync(target, default));
        var after = await RouteAsync();
        Assert.Equal(70, (int?)after["spec"]!["rules"]![0]!["backendRefs"]![0]!["weight"]);
        Assert.Equal(30, (int?)after["spec"]!["rules"]![0]!["backendRefs"]![1]!["weight"]);
        after["spec"]!["rules"]![0]!["backendRefs"]![0]!["weight"] = 100;
        after["spec"]!["rules"]![0]!["backendRefs"]![1]!["weight"] = 0;
        Assert.Equal(before["spec"]!.ToJsonString(), after["spec"]!.ToJsonString());

        Assert.Equal(new TrafficWeights(70, 30), await Router.SetWeightsAsync(target, 0, default));
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));
    }

    [Fact]
    public async Task An_AB_Canary_gets_a_rule_of_its_matches_first_and_only_that_rule_carries_the_weights()
    {
        var spec = GatewaySpec();
        spec["analysis"] = new JsonObject
        {
            ["iterations"] = 2,
            ["match"] = JsonNode.Parse("""
                [ { "headers": { "x-user-group": { "exact": "beta" } } },
                  { "headers": { "x-client": { "prefix": "ios.17(" } }, "queryParams": { "variant": { "regex": "b|c" } } } ]
                """),
        };
        var target = await Host.InitializedAsync(spec);

        var rules = (await RouteAsync())["spec"]!["rules"]!.AsArray();
        Assert.Equal(2, rules.Count);
        Assert.Equal("""[{"headers":[{"name":"x-user-group","type":"Exact","value":"beta"}]},""" +
                     """{"headers":[{"name":"x-client","type":"RegularExpression","value":"^ios\\.17\\(.*"}],"queryParams":[{"name":"variant","type":"RegularExpression","value":"b|c"}]}]""",
            rules[0]!["matches"]!.ToJsonString());
        Assert.Null(rules[1]!["matches"]);

        Assert.Equal(new TrafficWeights(100, 0), await Router.SetWeightsAsync(target, 100, default));
        Assert.Equal(new TrafficWeights(0, 100), await Router.GetWeightsAsync(target, default));
        rules = (await RouteAsync())["spec"]!["rules"]!.AsArray();
        Assert.Equal("0/100", string.Join("/", rules[0]!["backendRefs"]!.AsArray().Select(b => (int?)b!["weight"])));
        Assert.Equal("100/0", string.Join("/", rules[1]!["backendRefs"]!.AsArray().Select(b => (int?)b!["weight"])));
    }

    [Fact]
    public async Task A_changed_analysis_match_replaces_the_AB_rules_matches_keeping_its_weights_and_a_removed_one_removes_the_rule()
    {
        var spec = GatewaySpec();
        spec["analysis"] = new JsonObject { ["iterations"] = 2, ["match"] = JsonNode.Parse("""[ { "headers": { "x-user-group": { "exact": "beta" } } } ]""") };
        var target = await Host.InitializedAsync(spec);
        await Router.SetWeightsAsync(target, 100, default);

        await PatchCanaryAsync("""{"spec":{"analysis":{"match":[{"headers":{"x-user-group":{"exact":"gamma"}}}]}}}""");
        await Router.SetWeightsAsync(target, 100, default); // the weight is unchanged: only the rule's matches move
        var rules = (await RouteAsync())["spec"]!["rules"]!.AsArray();
        Assert.Equal(2, rules.Count);
        Assert.Equal("gamma", (string?)rules[0]!["matches"]![0]!["headers"]![0]!["value"]);
        Assert.Equal("0/100", string.Join("/", rules[0]!["backendRefs"]!.AsArray().Select(b => (int?)b!["weight"])));
        var version = (string?)(await RouteAsync())["metadata"]!["resourceVersion"];
        await Router.SetWeightsAsync(target, 100, default);
        Assert.Equal(version, (string?)(await RouteAsync())["metadata"]!["resourceVersion"]); // in step: nothing written again

        await PatchCanaryAsync("""{"spec":{"analysis":{"match":null,"iterations":null}}}"""); // no longer A/B
        await Router.SetWeightsAsync(target, 0, default);
        rules = (await RouteAsync())["spec"]!["rules"]!.AsArray();
        Assert.Null(Assert.Single(rules)!["matches"]);
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));
    }

    private Task PatchCanaryAsync(string mergePatch) => Host.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
        new k8s.Models.V1Patch(mergePatch, k8s.Models.V1Patch.PatchType.MergePatch), CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo");

    [Fact]
    public async Task The_router_is_chosen_per_Canary_so_an_Istio_Canary_beside_it_keeps_its_VirtualService()
    {
        var gateway = await Host.InitializedAsync(GatewaySpec());
        await Host.CreateDeploymentAsync("backend", "backend:1");
        await Host.CreateCanaryAsync("backend", "backend");
        await KubeTestHost.EventuallyAsync(async () => (await Host.GetCanaryAsync("backend"))["status"]?["trackedRevision"] is not null, "Istio Canary initialised");
        var istio = new CanaryFlow.Contracts.RolloutTarget(Ns, "backend");

        await Router.SetWeightsAsync(gateway, 20, default);
        await Router.SetWeightsAsync(istio, 40, default);

        Assert.Equal(new TrafficWeights(80, 20), HttpRouteBackends.Read(await RouteAsync(), "podinfo-primary", "podinfo-canary"));
        Assert.Equal(new TrafficWeights(60, 40), VirtualServiceRoutes.Read(await Host.GetCustomAsync(Istio.VirtualServices, "backend"), "backend", Ns));
        Assert.False(await ExistsAsync(GatewayApi.HttpRoutes, "backend", GatewayApi.Group, GatewayApi.Version));
        Assert.False(await ExistsAsync(Istio.VirtualServices, "podinfo", Istio.Group, Istio.Version));
    }

    [Fact]
    public async Task A_route_deleted_behind_the_controllers_back_is_created_again_on_the_next_weight()
    {
        var target = await Host.InitializedAsync(GatewaySpec());
        await Host.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GatewayApi.Group, GatewayApi.Version, Ns, GatewayApi.HttpRoutes, "podinfo");

        await Router.SetWeightsAsync(target, 10, default);

        Assert.Equal(new TrafficWeights(90, 10), HttpRouteBackends.Read(await RouteAsync(), "podinfo-primary", "podinfo-canary"));
    }

    [Fact]
    public async Task An_HTTPRoute_of_someone_elses_in_the_way_is_an_invalid_spec_and_nothing_is_created()
    {
        await Host.Client.CustomObjects.CreateNamespacedCustomObjectAsync(JsonNode.Parse("""
            {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"podinfo"},
             "spec":{"rules":[{"backendRefs":[{"name":"podinfo","port":8080}]}]}}
            """)!, GatewayApi.Group, GatewayApi.Version, Ns, GatewayApi.HttpRoutes);
        await Host.CreateDeploymentAsync("podinfo", "podinfo:1");
        await Host.CreateCanaryAsync("podinfo", "podinfo", GatewaySpec());
        await Host.StartWatcherAsync();

        await KubeTestHost.EventuallyAsync(async () => (await Host.GetCanaryAsync("podinfo"))["status"]?["conditions"]?.AsArray()
            .Any(c => (string?)c!["reason"] == "InvalidSpec" && ((string?)c["message"])!.Contains("HTTPRoute") ) == true, "InvalidSpec condition");
        Assert.False(await ExistsAsync("services", "podinfo-primary", "", "v1"));
        Assert.Equal("""[{"name":"podinfo","port":8080}]""", (await RouteAsync())["spec"]!["rules"]![0]!["backendRefs"]!.ToJsonString());
    }

    [Fact]
    public async Task A_gatewayapi_Canary_that_names_an_Istio_VirtualService_is_refused_at_admission()
    {
        var spec = GatewaySpec();
        spec["virtualService"] = new JsonObject { ["name"] = "podinfo" };

        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => Host.CreateCanaryAsync("podinfo", "podinfo", spec));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Contains("spec: Invalid value: \"object\": virtualService, destinationRule and service.gateways are Istio's",
            (string?)JsonNode.Parse(refused.Response.Content)!["message"]);
    }

    private async Task<bool> ExistsAsync(string plural, string name, string group, string version)
    {
        try
        {
            if (plural == "services") await Host.Client.CoreV1.ReadNamespacedServiceAsync(name, Ns);
            else await Host.Client.CustomObjects.GetNamespacedCustomObjectAsync(group, version, Ns, plural, name);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
    }
}

public sealed class GatewayApiRouterOnSandbox() : GatewayApiRouterContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class GatewayApiRouterOnRealServer() : GatewayApiRouterContract(KubeServer.Real);

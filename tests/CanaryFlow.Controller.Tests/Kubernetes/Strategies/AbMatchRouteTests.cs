using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>
/// A/B testing in an adopted VirtualService, on the sandbox and on the real kube-apiserver: CanaryFlow inserts one
/// match route of its own before the first route to the service, writes weights on it alone, and on deletion of the
/// Canary the VirtualService is the user's again, byte for byte.
/// </summary>
public abstract class AbMatchRouteContract(KubeServer server) : TwoServerTest(server)
{
    private const string Adopted = """
        {"apiVersion":"networking.istio.io/v1beta1","kind":"VirtualService","metadata":{"name":"podinfo-routes"},
         "spec":{"hosts":["podinfo","other"],
          "http":[
            {"name":"other","match":[{"uri":{"prefix":"/other"}}],"route":[{"destination":{"host":"other"}}]},
            {"name":"api","match":[{"uri":{"prefix":"/api"}}],"retries":{"attempts":3},"route":[{"destination":{"host":"podinfo"}}]},
            {"timeout":"5s","route":[{"destination":{"host":"podinfo"}}]}]}}
        """;

    private ITrafficRouter Router => Host.Get<ITrafficRouter>();

    private static JsonObject AbSpec() => new()
    {
        ["virtualService"] = new JsonObject { ["name"] = "podinfo-routes" },
        ["analysis"] = new JsonObject
        {
            ["progressDeadlineSeconds"] = 5, ["interval"] = "1s", ["iterations"] = 2,
            ["match"] = JsonNode.Parse("""[{"headers":{"x-user-group":{"exact":"beta"}}}]"""),
        },
    };

    private Task<JsonObject> VsAsync() => Host.GetCustomAsync(Istio.VirtualServices, "podinfo-routes");

    private Task CreateAdoptedAsync() => Host.Client.CustomObjects.CreateNamespacedCustomObjectAsync(JsonNode.Parse(Adopted)!,
        Istio.Group, Istio.Version, Ns, Istio.VirtualServices);

    [Fact]
    public async Task The_match_route_is_inserted_before_the_first_route_to_the_service_and_carries_the_weights_alone()
    {
        var target = await Host.InitializedAsync(AbSpec(), CreateAdoptedAsync);
        var original = JsonNode.Parse(Adopted)!["spec"]!["http"]!.AsArray();

        var http = (await VsAsync())["spec"]!["http"]!.AsArray();
        Assert.Equal(4, http.Count);
        Assert.Equal(Canonical(original[0]), Canonical(http[0])); // another service's route: untouched
        Assert.Equal("podinfo-canaryflow-ab", (string?)http[1]!["name"]);
        Assert.Equal(Canonical(JsonNode.Parse("""[{"uri":{"prefix":"/api"},"headers":{"x-user-group":{"exact":"beta"}}}]""")), Canonical(http[1]!["match"]));
        Assert.Equal("""{"attempts":3}""", http[1]!["retries"]!.ToJsonString());
        Assert.Equal(Canonical(original[1]), Canonical(http[2])); // the user's routes to the service, as written (all on stable)
        Assert.Equal(Canonical(original[2]), Canonical(http[3]));

        Assert.Equal(new TrafficWeights(100, 0), await Router.SetWeightsAsync(target, 100, default));
        Assert.Equal(new TrafficWeights(0, 100), await Router.GetWeightsAsync(target, default));
        http = (await VsAsync())["spec"]!["http"]!.AsArray();
        Assert.Equal([0, 100], http[1]!["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
        Assert.Equal([Canonical(original[0]), Canonical(original[1]), Canonical(original[2])], [Canonical(http[0]), Canonical(http[2]), Canonical(http[3])]);
    }

    [Fact]
    public async Task Deleting_the_Canary_gives_the_VirtualService_back_as_the_user_wrote_it()
    {
        var target = await Host.InitializedAsync(AbSpec(), CreateAdoptedAsync);
        await Router.SetWeightsAsync(target, 100, default);
        await Router.SetWeightsAsync(target, 0, default);

        await Host.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo");
        await KubeTestHost.EventuallyAsync(async () =>
        {
            try { await Host.GetCanaryAsync("podinfo"); return false; }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return true; }
        }, "the Canary is gone", 60);

        Assert.Equal(Canonical(JsonNode.Parse(Adopted)!["spec"]), Canonical((await VsAsync())["spec"]));
    }

    [Fact]
    public async Task Taking_match_out_of_the_spec_removes_the_match_route_at_the_next_weight_write()
    {
        var target = await Host.InitializedAsync(AbSpec(), CreateAdoptedAsync);
        await Router.SetWeightsAsync(target, 100, default);
        await Router.SetWeightsAsync(target, 0, default);

        await Host.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"analysis":{"match":null,"iterations":null,"stepWeight":10}}}""", V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo");
        await Router.SetWeightsAsync(target, 20, default);

        var http = (await VsAsync())["spec"]!["http"]!.AsArray();
        Assert.DoesNotContain(http, r => (string?)r!["name"] == "podinfo-canaryflow-ab");
        Assert.Equal(3, http.Count);
        var original = JsonNode.Parse(Adopted)!["spec"]!["http"]!.AsArray();
        Assert.Equal(Canonical(original[0]), Canonical(http[0]));
        // The user's two routes to the service, now weighted like any canary's.
        Assert.Equal([80, 20], http[1]!["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
        Assert.Equal([80, 20], http[2]!["route"]!.AsArray().Select(d => (int?)d!["weight"] ?? -1));
        Assert.Equal(new TrafficWeights(80, 20), await Router.GetWeightsAsync(target, default));
    }

    /// <summary>The JSON with object keys sorted: the real API server stores custom objects as maps and returns their
    /// keys in its own order, so "byte for byte" is compared on content.</summary>
    private static string Canonical(JsonNode? node) => Sorted(node)?.ToJsonString() ?? "null";

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Sorted)]),
        _ => node?.DeepClone(),
    };

    [Theory]
    [InlineData("""{"iterations":2,"stepWeight":10,"match":[{"headers":{"a":{"exact":"b"}}}]}""", "spec.analysis", "A/B testing (match) runs a fixed number of iterations")]
    [InlineData("""{"match":[{"headers":{"a":{"exact":"b"}}}]}""", "spec.analysis", "A/B testing (match) runs a fixed number of iterations")]
    [InlineData("""{"iterations":2}""", "spec.analysis", "iterations needs match (A/B testing)")]
    [InlineData("""{"iterations":2,"match":[{"headers":{"a":{"exact":"b","regex":"c"}}}]}""", "spec.analysis.match[0].headers[a]", "give exactly one of exact, prefix or regex")]
    public async Task An_AB_Canary_that_breaks_a_rule_is_refused_at_admission_with_the_rules_message(string analysis, string field, string message)
    {
        var spec = new JsonObject { ["analysis"] = JsonNode.Parse(analysis) };

        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => Host.CreateCanaryAsync("podinfo", "podinfo", spec));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Contains($"{field}: Invalid value: \"object\": {message}", (string?)JsonNode.Parse(refused.Response.Content)!["message"]);
    }
}

public sealed class AbMatchRouteOnSandbox() : AbMatchRouteContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class AbMatchRouteOnRealServer() : AbMatchRouteContract(KubeServer.Real);

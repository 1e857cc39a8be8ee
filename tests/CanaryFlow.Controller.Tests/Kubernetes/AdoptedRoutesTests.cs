using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Kubernetes.Routing;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The give-back patch for an adopted VirtualService, on its own (no API server needed: pure JSON).</summary>
public sealed class AdoptedRoutesTests
{
    private const string Bare = """
        {"metadata":{"name":"vs","resourceVersion":"7"},"spec":{"http":[
          {"route":[{"destination":{"host":"web"}}]},
          {"route":[{"destination":{"host":"other"},"weight":100}]}]}}
        """;

    private static JsonObject Vs(string json) => JsonNode.Parse(json)!.AsObject();

    /// <summary>The bare route as CanaryFlow leaves it mid-rollout: a subset and a canary destination added.</summary>
    private static JsonObject Rewritten(JsonObject original)
    {
        var patched = (JsonObject)original.DeepClone();
        var route = patched["spec"]!["http"]![0]!["route"]!.AsArray();
        route[0]!["destination"]!["subset"] = "stable";
        route[0]!["weight"] = 60;
        route.Add(JsonNode.Parse("""{"destination":{"host":"web","subset":"canary"},"weight":40}"""));
        return patched;
    }

    /// <summary>The patch applied as the API server applies it (the sandbox's RFC 6902 implementation).</summary>
    private static JsonObject Apply(JsonObject vs, JsonArray patch) => CanaryFlow.Sandbox.Kubernetes.JsonPatching.ApplyJsonPatch(vs, patch).AsObject();

    [Fact]
    public void With_the_snapshot_taken_at_adoption_everything_CanaryFlow_added_is_removed()
    {
        var original = Vs(Bare);
        var snapshot = AdoptedRoutes.Snapshot(original, "web", "default");

        var givenBack = Apply(Rewritten(original), AdoptedRoutes.GiveBackPatch(Rewritten(original), "web", "default", snapshot));

        Assert.Equal(original.ToJsonString(), givenBack.ToJsonString());
    }

    [Fact]
    public void Without_a_snapshot_only_the_weights_go_back_and_the_added_destination_stays_at_zero()
    {
        var givenBack = Apply(Rewritten(Vs(Bare)), AdoptedRoutes.GiveBackPatch(Rewritten(Vs(Bare)), "web", "default", snapshot: null));

        Assert.Equal(new CanaryFlow.Controller.Seams.TrafficWeights(100, 0), VirtualServiceRoutes.Read(givenBack, "web", "default"));
        Assert.Equal(2, givenBack["spec"]!["http"]![0]!["route"]!.AsArray().Count);
        Assert.Equal(AdoptedRoutes.GiveBackPatch(Rewritten(Vs(Bare)), "web", "default", "not json").ToJsonString(),
            AdoptedRoutes.GiveBackPatch(Rewritten(Vs(Bare)), "web", "default", null).ToJsonString()); // a damaged note is no note
    }

    [Fact]
    public void A_VirtualService_already_given_back_needs_no_write()
    {
        var original = Vs(Bare);
        var patch = AdoptedRoutes.GiveBackPatch(original, "web", "default", AdoptedRoutes.Snapshot(original, "web", "default"));
        Assert.Single(patch); // only the resourceVersion condition
    }
}

using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>What session affinity writes into the VirtualService, on the sandbox and on the real kube-apiserver.</summary>
public abstract class AffinityRouteContract(KubeServer server) : TwoServerTest(server)
{
    private ITrafficRouter Router => Host.Get<ITrafficRouter>();

    [Fact]
    public async Task While_the_canary_has_weight_its_cookie_holders_are_routed_to_it_and_at_zero_back_to_stable()
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
}

public sealed class AffinityRouteOnSandbox() : AffinityRouteContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class AffinityRouteOnRealServer() : AffinityRouteContract(KubeServer.Real);

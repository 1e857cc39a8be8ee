using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>What mirroring writes into the VirtualService, on the sandbox and on the real kube-apiserver.</summary>
public abstract class MirrorRouteContract(KubeServer server) : TwoServerTest(server)
{
    private ITrafficRouter Router => Host.Get<ITrafficRouter>();

    [Fact]
    public async Task A_mirroring_step_mirrors_to_the_canary_subset_and_the_next_weight_removes_the_mirror()
    {
        var target = await Host.InitializedAsync(new JsonObject
        {
            ["analysis"] = new JsonObject
            {
                ["progressDeadlineSeconds"] = 5, ["interval"] = "1s", ["stepWeight"] = 20,
                ["mirror"] = new JsonObject { ["iterations"] = 2, ["percentage"] = 25 },
            },
        });

        await Router.SetWeightsAsync(target, 0, mirror: true, default);

        var route = (await Host.GetCustomAsync(Istio.VirtualServices, "podinfo"))["spec"]!["http"]![0]!;
        Assert.Equal("podinfo", (string?)route["mirror"]!["host"]);
        Assert.Equal("canary", (string?)route["mirror"]!["subset"]);
        Assert.Equal(25, (double?)route["mirrorPercentage"]!["value"]);
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(target, default));

        await Router.SetWeightsAsync(target, 20, default);

        route = (await Host.GetCustomAsync(Istio.VirtualServices, "podinfo"))["spec"]!["http"]![0]!;
        Assert.Null(route["mirror"]);
        Assert.Null(route["mirrorPercentage"]);
        Assert.Equal(new TrafficWeights(80, 20), await Router.GetWeightsAsync(target, default));
    }
}

public sealed class MirrorRouteOnSandbox() : MirrorRouteContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class MirrorRouteOnRealServer() : MirrorRouteContract(KubeServer.Real);

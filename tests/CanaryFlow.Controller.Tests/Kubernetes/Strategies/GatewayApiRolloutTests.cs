using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Mesh;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>A whole rollout through a Gateway API HTTPRoute, with users' requests going through the sandbox mesh.</summary>
public sealed class GatewayApiRolloutTests
{
    [Fact]
    public async Task A_release_behind_an_HTTPRoute_shifts_users_to_the_canary_step_by_step_then_all_back_to_the_promoted_primary()
    {
        await using var world = await StrategyWorld.StartAsync("gw-shop", new JsonObject
        {
            ["provider"] = "gatewayapi",
            ["analysis"] = new JsonObject { ["stepWeight"] = 25 },
        });
        var route = world.Store.Watch(ResourceKinds.HttpRoutes, StrategyWorld.Ns, LabelSelector.Parse(null), "gw-shop", world.Store.CurrentResourceVersion);
        await world.SendUntilAsync(() => false, users: 10, maxRounds: 2);
        Assert.All(world.Traffic.Exchanges, e => Assert.Equal("gw-shop-primary", e.AnsweredBy)); // before the release: stable only

        await world.ReleaseAsync("2.0");
        await world.SendUntilAsync(() => world.Finished("2.0"), users: 10, maxRounds: 3000);
        Assert.Equal(RolloutPhases.Succeeded, world.Phase());
        Assert.Equal("rel/gw-shop:2.0", world.PrimaryImage());

        route.Close();
        var weights = new List<int>();
        while (route.Events.TryRead(out var e))
            if (HttpRouteBackends.Read(e.Object, "gw-shop-primary", "gw-shop-canary") is { } w && (weights.Count == 0 || weights[^1] != w.Canary)) weights.Add(w.Canary);
        Assert.Equal([25, 50, 75, 100, 0], weights);

        // Every request was answered by the version the route chose, and the canary answered some during the rollout.
        Assert.All(world.Traffic.Exchanges, e => Assert.Equal(e.Answered == Track.Canary ? "gw-shop" : "gw-shop-primary", e.AnsweredBy));
        Assert.Contains(world.Traffic.Exchanges, e => e.Answered == Track.Canary);
        var after = new List<MeshExchange>();
        for (var i = 0; i < 20; i++) after.Add(await world.Traffic.SendAsync($"late-{i}"));
        Assert.All(after, e => Assert.Equal("gw-shop-primary", e.AnsweredBy));

        var view = await world.Controller.Http.GetFromJsonAsync<RolloutStatusView>($"/api/rollouts/{StrategyWorld.Ns}/gw-shop");
        Assert.Equal(RolloutPhases.Succeeded, view!.Phase);
        Assert.Contains("Gateway API", view.Strategy);
    }
}

using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Mesh;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>Mirroring and blue/green, the whole controller over HTTP on the sandbox, users' requests through the mesh.</summary>
public sealed class MirrorAndBlueGreenRolloutTests
{
    /// <summary>Users browse through the release; each exchange is noted with the canary weight the status showed when it was sent.</summary>
    private static async Task<List<(int Weight, MeshExchange Exchange)>> BrowseAsync(StrategyWorld world, string version)
    {
        var seen = new List<(int, MeshExchange)>();
        for (var round = 0; round < 3000 && !world.Finished(version); round++)
        {
            for (var u = 0; u < 10; u++)
            {
                // The weight the mesh routes by (the VirtualService), not the status, which is written just after it.
                var progressing = world.Phase() == RolloutPhases.Progressing;
                var weight = RoutedWeight(world);
                var e = await world.Traffic.SendAsync($"user-{u}");
                if (progressing && world.Phase() == RolloutPhases.Progressing && RoutedWeight(world) == weight) seen.Add((weight, e));
            }
            await Task.Delay(20);
        }
        return seen;
    }

    private static int RoutedWeight(StrategyWorld world) =>
        (int?)world.Store.List(ResourceKinds.VirtualServices, StrategyWorld.Ns, LabelSelector.Parse(null), world.Name).Items.FirstOrDefault()?
            ["spec"]?["http"]?[0]?["route"]?[1]?["weight"] ?? -1;

    private static List<string> MirrorStates(StrategyWorld world, WatchSubscription vs)
    {
        vs.Close();
        var states = new List<string>();
        while (vs.Events.TryRead(out var e))
        {
            var route = e.Object["spec"]!["http"]![0]!;
            var text = $"{(int?)route["route"]![1]!["weight"]}{(route["mirror"] is null ? "" : $" mirror {(double?)route["mirrorPercentage"]?["value"]}%")}";
            if (states.Count == 0 || states[^1] != text) states.Add(text);
        }
        return states;
    }

    [Fact]
    public async Task With_mirroring_the_canary_gets_copies_of_stables_requests_before_any_weight_and_no_user_sees_its_answers()
    {
        await using var world = await StrategyWorld.StartAsync("mirror-shop", new JsonObject
        {
            ["analysis"] = new JsonObject { ["stepWeight"] = 50, ["mirror"] = new JsonObject { ["iterations"] = 3 } },
        });
        var vs = world.Store.Watch(ResourceKinds.VirtualServices, StrategyWorld.Ns, LabelSelector.Parse(null), "mirror-shop", world.Store.CurrentResourceVersion);

        await world.ReleaseAsync("2.0");
        var seen = await BrowseAsync(world, "2.0");

        Assert.Equal(RolloutPhases.Succeeded, world.Phase());
        Assert.Equal("rel/mirror-shop:2.0", world.PrimaryImage());
        var atZero = seen.Where(s => s.Weight == 0).Select(s => s.Exchange).ToList();
        Assert.NotEmpty(atZero);
        Assert.All(atZero, e => Assert.Equal("mirror-shop-primary", e.AnsweredBy)); // users only ever see stable's answers
        Assert.Contains(atZero, e => e.Mirrored == Track.Canary);                  // while the canary got copies
        Assert.All(seen.Where(s => s.Weight > 0), s => Assert.Null(s.Exchange.Mirrored)); // no mirror once weights move
        Assert.Contains(seen, s => s.Weight == 50 && s.Exchange.AnsweredBy == "mirror-shop");
        // The mirror goes before the first weight moves (so "0" once more), and never comes back.
        Assert.Equal(["0 mirror 100%", "0", "50", "100", "0"], MirrorStates(world, vs));

        var view = await world.Controller.Http.GetFromJsonAsync<RolloutStatusView>($"/api/rollouts/{StrategyWorld.Ns}/mirror-shop");
        Assert.Equal([0, 0, 0, 50, 100], view!.Steps);
        Assert.Equal("Canary (Istio) after 3 iterations on 100% mirrored traffic", view.Strategy);
    }

    [Fact]
    public async Task Blue_green_analyses_mirrored_traffic_then_switches_everyone_from_0_to_100_at_once()
    {
        await using var world = await StrategyWorld.StartAsync("bg-shop", new JsonObject
        {
            ["analysis"] = new JsonObject { ["blueGreen"] = true, ["mirror"] = new JsonObject { ["iterations"] = 2, ["percentage"] = 50 } },
        });
        var vs = world.Store.Watch(ResourceKinds.VirtualServices, StrategyWorld.Ns, LabelSelector.Parse(null), "bg-shop", world.Store.CurrentResourceVersion);

        await world.ReleaseAsync("2.0");
        var seen = await BrowseAsync(world, "2.0");

        Assert.Equal(RolloutPhases.Succeeded, world.Phase());
        Assert.Equal("rel/bg-shop:2.0", world.PrimaryImage());
        Assert.Equal(["0 mirror 50%", "0", "100", "0"], MirrorStates(world, vs)); // no weight between 0 and 100
        var atZero = seen.Where(s => s.Weight == 0).Select(s => s.Exchange).ToList();
        Assert.All(atZero, e => Assert.Equal("bg-shop-primary", e.AnsweredBy));
        var mirrored = atZero.Count(e => e.Mirrored == Track.Canary);
        Assert.InRange(mirrored, 1, atZero.Count - 1); // half of them, not all
        Assert.All(seen.Where(s => s.Weight == 100), s => Assert.Equal("bg-shop", s.Exchange.AnsweredBy)); // then everyone on green
        Assert.Contains(seen, s => s.Weight == 100);

        var view = await world.Controller.Http.GetFromJsonAsync<RolloutStatusView>($"/api/rollouts/{StrategyWorld.Ns}/bg-shop");
        Assert.Equal([0, 0, 100], view!.Steps);
        Assert.Equal("Blue/green (Istio): 2 iterations on 50% mirrored traffic, then 0 → 100", view.Strategy);
    }
}

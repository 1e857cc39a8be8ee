using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Mesh;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>A/B testing on Istio matches and on Gateway API HTTPRoute matches, the whole controller over HTTP, users'
/// requests through the sandbox mesh.</summary>
public sealed class AbTestingRolloutTests
{
    private const string Cookie = @"^(.*?;\s*)?(beta=yes)(;.*)?$"; // browsers separate cookies with "; "

    private static readonly JsonObject Spec = new()
    {
        ["analysis"] = new JsonObject
        {
            ["iterations"] = 3,
            ["match"] = JsonNode.Parse($$"""
                [ { "headers": { "x-user-group": { "exact": "beta" } } },
                  { "headers": { "cookie": { "regex": "{{Cookie.Replace("\\", "\\\\")}}" } } },
                  { "headers": { "x-client": { "prefix": "ios-" } }, "queryParams": { "variant": { "exact": "b" } } } ]
                """),
        },
    };

    /// <summary>What user u sends: 0-4 the beta header, 5-9 the beta cookie, 10-14 an iOS client asking for variant b
    /// (matches), 15-19 an iOS client without the query, 20-29 nothing (no match).</summary>
    private static (Dictionary<string, string>? Headers, Dictionary<string, string>? Query) Request(int u) => u switch
    {
        < 5 => (new() { ["x-user-group"] = "beta" }, null),
        < 10 => (new() { ["cookie"] = "session=1; beta=yes" }, null),
        < 15 => (new() { ["x-client"] = "ios-17" }, new() { ["variant"] = "b" }),
        < 20 => (new() { ["x-client"] = "ios-17" }, null),
        _ => (null, null),
    };

    private static bool Matches(int u) => u < 15;

    [Fact]
    public async Task On_a_Gateway_API_HTTPRoute_only_matching_requests_reach_the_canary_then_everyone_gets_the_promoted_version()
    {
        var spec = (JsonObject)Spec.DeepClone();
        spec["provider"] = "gatewayapi";
        await using var world = await StrategyWorld.StartAsync("gab-shop", spec);
        var route = world.Store.Watch(ResourceKinds.HttpRoutes, StrategyWorld.Ns, LabelSelector.Parse(null), "gab-shop", world.Store.CurrentResourceVersion);

        await world.ReleaseAsync("2.0");
        var sent = await SendDuringAsync(world, "2.0");
        Assert.Equal(RolloutPhases.Succeeded, world.Phase());
        Assert.NotEmpty(sent);
        Assert.All(sent, s => Assert.Equal(Matches(s.User) ? "gab-shop" : "gab-shop-primary", s.Exchange.AnsweredBy));
        Assert.All(Enumerable.Range(0, 30), u => Assert.Contains(sent, s => s.User == u));

        // The matches rule went to the canary and back; the catch-all rule never moved.
        route.Close();
        var rules = new List<string>();
        while (route.Events.TryRead(out var e))
        {
            var text = string.Join(" | ", e.Object["spec"]!["rules"]!.AsArray().Select(r =>
                $"{(r!["matches"] is null ? "default" : "matches")}:{string.Join("/", r["backendRefs"]!.AsArray().Select(b => (int?)b!["weight"]))}"));
            if (rules.Count == 0 || rules[^1] != text) rules.Add(text);
        }
        Assert.Equal(["matches:0/100 | default:100/0", "matches:100/0 | default:100/0"], rules);
        for (var u = 0; u < 30; u++)
        {
            var (headers, query) = Request(u);
            Assert.Equal("gab-shop-primary", (await world.Traffic.SendAsync($"after-{u}", headers, query)).AnsweredBy);
        }
        var view = await world.Controller.Http.GetFromJsonAsync<RolloutStatusView>($"/api/rollouts/{StrategyWorld.Ns}/gab-shop");
        Assert.Equal("A/B testing (Gateway API HTTPRoute): 3 iterations on matching requests, then promotion", view!.Strategy);
    }

    /// <summary>Requests from 30 users in turn until the release ends; those sent while the canary takes the matching
    /// requests (Progressing at 100%) are returned.</summary>
    private static async Task<List<(int User, MeshExchange Exchange)>> SendDuringAsync(StrategyWorld world, string version)
    {
        var sent = new List<(int User, MeshExchange Exchange)>();
        for (var round = 0; round < 3000 && !world.Finished(version); round++)
        {
            var live = (string?)world.Status()?["phase"] == RolloutPhases.Progressing && (int?)world.Status()?["canaryWeight"] == 100;
            for (var u = 0; u < 30; u++)
            {
                var (headers, query) = Request(u);
                var e = await world.Traffic.SendAsync($"user-{u}", headers, query);
                if (live && (string?)world.Status()?["phase"] == RolloutPhases.Progressing) sent.Add((u, e));
            }
            await Task.Delay(20);
        }
        return sent;
    }

    [Fact]
    public async Task Only_matching_requests_reach_the_canary_for_the_given_iterations_then_everyone_gets_the_promoted_version()
    {
        await using var world = await StrategyWorld.StartAsync("ab-shop", Spec);
        var vs = world.Store.Watch(ResourceKinds.VirtualServices, StrategyWorld.Ns, LabelSelector.Parse(null), "ab-shop", world.Store.CurrentResourceVersion);

        await world.ReleaseAsync("2.0");
        var sent = await SendDuringAsync(world, "2.0");
        Assert.Equal(RolloutPhases.Succeeded, world.Phase());
        Assert.Equal("rel/ab-shop:2.0", world.PrimaryImage());

        Assert.NotEmpty(sent);
        Assert.All(sent, s => Assert.Equal(Matches(s.User) ? "ab-shop" : "ab-shop-primary", s.Exchange.AnsweredBy));
        Assert.All(Enumerable.Range(0, 30), u => Assert.Contains(sent, s => s.User == u)); // every kind of user was seen

        // The match route went to the canary and back (stable/canary weights); the catch-all route never moved.
        vs.Close();
        var routes = new List<string>();
        while (vs.Events.TryRead(out var e))
        {
            var http = e.Object["spec"]!["http"]!.AsArray();
            var text = string.Join(" | ", http.Select(h => $"{(string?)h!["name"] ?? "default"}:{string.Join("/", h!["route"]!.AsArray().Select(d => (int?)d!["weight"]))}"));
            if (routes.Count == 0 || routes[^1] != text) routes.Add(text);
        }
        Assert.Equal(["ab-shop-canaryflow-ab:0/100 | default:100/0", "ab-shop-canaryflow-ab:100/0 | default:100/0"], routes);

        // Afterwards everyone, matching or not, is answered by the primary.
        for (var u = 0; u < 30; u++)
        {
            var (headers, query) = Request(u);
            Assert.Equal("ab-shop-primary", (await world.Traffic.SendAsync($"after-{u}", headers, query)).AnsweredBy);
        }

        var view = await world.Controller.Http.GetFromJsonAsync<RolloutStatusView>($"/api/rollouts/{StrategyWorld.Ns}/ab-shop");
        Assert.Equal([100, 100, 100], view!.Steps);
        Assert.Equal("A/B testing (Istio): 3 iterations on matching requests, then promotion", view.Strategy);
    }
}

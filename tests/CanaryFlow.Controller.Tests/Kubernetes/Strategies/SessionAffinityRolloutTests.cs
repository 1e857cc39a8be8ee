using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Mesh;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>
/// Session affinity, the whole controller over HTTP on the sandbox: 40 users keep browsing while the weights move,
/// and the test counts users who were answered by the canary and later by stable (flipped back) before promotion.
/// </summary>
public sealed class SessionAffinityRolloutTests
{
    private static async Task<(int Flipped, int OnCanary, IReadOnlyList<MeshExchange> Seen)> BrowseThroughARolloutAsync(string name, JsonObject? affinity)
    {
        var analysis = new JsonObject { ["stepWeight"] = 20 };
        if (affinity is not null) analysis["sessionAffinity"] = affinity;
        await using var world = await StrategyWorld.StartAsync(name, new JsonObject { ["analysis"] = analysis });
        await world.ReleaseAsync("2.0");
        var seen = new List<MeshExchange>();
        for (var round = 0; round < 3000 && !world.Finished("2.0"); round++)
        {
            for (var u = 0; u < 40; u++)
            {
                var e = await world.Traffic.SendAsync($"user-{u}");
                // Only while the release is in progress: promotion moves everyone to the new primary, by design.
                if (world.Phase() == RolloutPhases.Progressing) seen.Add(e);
            }
            await Task.Delay(20);
        }
        Assert.Equal(RolloutPhases.Succeeded, world.Phase());
        Assert.All(seen, e => Assert.Equal(e.Answered == Track.Canary ? name : name + "-primary", e.AnsweredBy));
        var flipped = seen.GroupBy(e => e.User).Count(g =>
            g.SkipWhile(e => e.Answered != Track.Canary).Any(e => e.Answered == Track.Stable));
        var onCanary = seen.Where(e => e.Answered == Track.Canary).Select(e => e.User).Distinct().Count();
        return (flipped, onCanary, seen);
    }

    [Fact]
    public async Task With_session_affinity_no_user_flips_back_to_stable_once_the_canary_answered_them()
    {
        var (flipped, onCanary, _) = await BrowseThroughARolloutAsync("sticky-shop", new JsonObject { ["cookieName"] = "canary-shop", ["maxAge"] = 600 });

        Assert.Equal(0, flipped);
        Assert.True(onCanary >= 8, $"the weights should have sent users to the canary; {onCanary} were");
    }

    [Fact]
    public async Task Without_session_affinity_users_flip_between_versions_as_the_weights_move()
    {
        // The control for the test above: the same rollout and users, no cookie; weighted routing alone re-rolls every request.
        var (flipped, _, _) = await BrowseThroughARolloutAsync("loose-shop", null);

        Assert.True(flipped > 0, "weighted routing alone should send some canary users back to stable");
    }
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Web;

namespace CanaryFlow.Controller.Tests.Web;

/// <summary>The in-memory timelines: bounded for finished rollouts, shared parts kept once, redeliveries ignored.</summary>
public sealed class RolloutHistoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 1, 0, 0, TimeSpan.Zero);

    private static RolloutTarget Target(int i) => new("shop", $"svc-{i}");

    private static RolloutTransitioned T(RolloutTarget target, string from, string to, long version, string revision = "v2", string? summary = null) =>
        new(RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, revision), target, new string(revision), "v1", new string(from), new string(to),
            10, 10, 0, 10, 0, 0, $"reason {version}", summary is null ? null : new AnalysisEvidence(summary, [new MetricResult("success-rate", 0.999, 0.99, null, "pass")]),
            version, T0.AddSeconds(version));

    private static void Finish(RolloutHistory h, RolloutTarget target, string revision = "v2")
    {
        h.Add(T(target, RolloutPhases.Initializing, RolloutPhases.Progressing, 1, revision));
        h.Add(T(target, RolloutPhases.Promoting, RolloutPhases.Succeeded, 2, revision));
    }

    [Fact]
    public void Only_the_most_recently_finished_rollouts_keep_their_timeline_while_running_ones_keep_theirs()
    {
        var h = new RolloutHistory(keepFinished: 3);
        var running = Target(99);
        h.Add(T(running, RolloutPhases.Initializing, RolloutPhases.Progressing, 1));
        for (var i = 0; i < 5; i++) Finish(h, Target(i));

        Assert.Empty(h.For(RolloutIds.ForTarget(Target(0))));
        Assert.Empty(h.For(RolloutIds.ForTarget(Target(1))));
        Assert.Equal(2, h.For(RolloutIds.ForTarget(Target(4))).Count);
        Assert.Single(h.For(RolloutIds.ForTarget(running)));
        Assert.Equal(4, h.Count); // 3 finished + 1 running
    }

    [Fact]
    public void A_target_that_started_a_new_rollout_keeps_its_timeline_when_its_old_finish_ages_out()
    {
        var h = new RolloutHistory(keepFinished: 1);
        var again = Target(0);
        Finish(h, again, "v2");
        h.Add(T(again, RolloutPhases.Succeeded, RolloutPhases.Initializing, 3, "v3")); // the next release of the same target
        Finish(h, Target(1));

        Assert.Equal(3, h.For(RolloutIds.ForTarget(again)).Count);
    }

    [Fact]
    public void Consecutive_transitions_share_their_equal_parts_and_a_redelivery_is_kept_once()
    {
        var h = new RolloutHistory();
        var target = Target(0);
        h.Add(T(target, RolloutPhases.Progressing, RolloutPhases.Progressing, 1, summary: "all passed"));
        h.Add(T(target, RolloutPhases.Progressing, RolloutPhases.Progressing, 2, summary: "all passed"));
        h.Add(T(target, RolloutPhases.Progressing, RolloutPhases.Progressing, 2, summary: "all passed"));

        var kept = h.For(RolloutIds.ForTarget(target));
        Assert.Equal(2, kept.Count);
        Assert.Same(kept[0].Target, kept[1].Target);
        Assert.Same(kept[0].Revision, kept[1].Revision);
        Assert.Same(kept[0].LastAnalysis, kept[1].LastAnalysis);
        Assert.Same(RolloutPhases.Progressing, kept[1].Phase);
        Assert.Equal("reason 2", kept[1].Reason);
    }
}

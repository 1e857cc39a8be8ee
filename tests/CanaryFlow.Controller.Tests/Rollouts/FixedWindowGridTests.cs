using CanaryFlow.Analysis.Batching;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>Fixed-window rollouts check on a grid shared with every rollout of the same interval, so a namespace's
/// batched queries run once per grid point (issue 15: at 10,000 canaries each check fell in its own batch window).</summary>
public sealed class FixedWindowGridTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero); // on the 10 s grid of a 1 min interval

    private static RolloutState Progressing() => new()
    {
        CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.Progressing, Plan = TestPlans.TenToHundred, LastProgressAt = Start,
    };

    [Fact]
    public void Steps_whose_weights_were_applied_seconds_apart_are_checked_at_the_same_instant()
    {
        var offsets = new[] { 0.2, 1.5, 3.0, 7.9 };
        var due = offsets.Select(o =>
        {
            var s = Progressing();
            s.WeightApplied(10, Start.AddSeconds(o));
            return s.NextAnalysisAt;
        }).Distinct().ToList();
        Assert.Equal([Start + TestPlans.Interval + FixedWindowSchedule.Grid(TestPlans.Interval)], due);
    }

    [Fact]
    public void After_a_check_the_next_is_due_one_interval_after_the_last_was_due_on_the_grid()
    {
        var s = Progressing();
        s.WeightApplied(10, Start.AddSeconds(3));
        var first = s.NextAnalysisAt!.Value;
        // Answered late (a slow query): the step is neither shortened nor lengthened.
        s.CheckPassed(new AnalysisEvidence("passed", []), first.AddSeconds(4));
        Assert.Equal(first + TestPlans.Interval, s.NextAnalysisAt);
    }
}

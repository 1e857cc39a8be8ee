using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>A due check whose answer does not come is asked again less and less often: behind a queue backlog the copies
/// otherwise grew faster than the queue drained (issue 15, 10,000 Canaries over 3 replicas).</summary>
public sealed class TickPolicyBackOffTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Repeats_of_an_unanswered_check_back_off_so_a_backlog_does_not_grow_with_copies()
    {
        var policy = new TickPolicy(new RolloutEngineOptions { StallAfter = TimeSpan.FromSeconds(5) }, startedAt: Start);
        var state = new RolloutState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = RolloutPhases.Progressing, Plan = TestPlans.TenToHundred,
            AnalysisSequence = 3, NextAnalysisAt = Start.AddSeconds(1), LastProgressAt = Start,
        };
        var sentAt = new List<int>();
        for (var second = 0; second <= 600; second++)
            if (policy.Due(state, Start.AddSeconds(second)).OfType<AnalysisDue>().Any()) sentAt.Add(second);
        var interval = (int)TestPlans.Interval.TotalSeconds;
        // Due at 1 s, then one interval, two, four, ... later (up to 32 intervals): never one every interval.
        var expected = new List<int> { 1 };
        for (var wait = interval; expected[^1] + wait <= 600; wait = Math.Min(wait * 2, 32 * interval)) expected.Add(expected[^1] + wait);
        Assert.Equal(expected, sentAt);
        Assert.True(sentAt.Count < 600 / interval / 2);
    }
}

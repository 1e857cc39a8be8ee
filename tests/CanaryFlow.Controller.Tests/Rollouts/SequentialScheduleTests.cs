using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>Sequential checks fall on one grid shared by every rollout, so a namespace costs one query set per tick.</summary>
public sealed class SequentialScheduleTests
{
    private static readonly SequentialSpec Spec = new(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10));
    private static readonly DateTimeOffset Grid = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000); // a multiple of 5 s

    [Theory]
    [InlineData(0, 5000)]     // applied on a grid point: the next one
    [InlineData(1, 4999)]
    [InlineData(2500, 2500)]
    [InlineData(4999, 1)]
    public void The_first_check_at_a_new_weight_is_the_next_grid_point_within_one_tick(int appliedAfterGridMs, int waitMs)
    {
        var applied = Grid.AddMilliseconds(appliedAfterGridMs);
        var first = SequentialSchedule.FirstCheck(Spec, applied);
        Assert.Equal(applied.AddMilliseconds(waitMs), first);
        Assert.Equal(0, first.ToUnixTimeMilliseconds() % 5000);
    }

    [Fact]
    public void Rollouts_whose_steps_started_at_different_moments_are_checked_at_the_same_instants()
    {
        var instants = new[] { 130, 1_770, 3_020, 4_900 }.Select(ms =>
        {
            var due = SequentialSchedule.FirstCheck(Spec, Grid.AddMilliseconds(ms));
            var checks = new List<DateTimeOffset> { due };
            for (var i = 0; i < 5; i++) checks.Add(due = SequentialSchedule.NextCheck(Spec, due, due.AddMilliseconds(300)));
            return checks;
        }).ToList();

        Assert.All(instants, checks => Assert.Equal(instants[0], checks));
        Assert.Equal(Enumerable.Range(1, 6).Select(k => Grid.AddSeconds(5 * k)), instants[0]);
    }

    [Fact]
    public void A_controller_that_was_down_checks_once_at_once_and_then_on_the_grid_again()
    {
        var missed = Grid.AddSeconds(5);
        var back = Grid.AddSeconds(62.4);
        var now = SequentialSchedule.NextCheck(Spec, missed, back);
        Assert.Equal(back, now);
        Assert.Equal(Grid.AddSeconds(65), SequentialSchedule.NextCheck(Spec, now, now.AddMilliseconds(200)));
    }
}

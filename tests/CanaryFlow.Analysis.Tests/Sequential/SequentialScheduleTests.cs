using CanaryFlow.Analysis.Sequential;

namespace CanaryFlow.Analysis.Tests.Sequential;

public class SequentialScheduleTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Look = TimeSpan.FromSeconds(2);

    // Offsets in seconds of the first n checks of a step.
    private static double[] Checks(TimeSpan? firstLook, bool baselineRead, int n)
    {
        var offsets = new List<double>();
        var at = SequentialSchedule.First(Tick, firstLook, baselineRead);
        for (var i = 0; i < n; i++, at = SequentialSchedule.Next(at, Tick, firstLook)) offsets.Add(at.TotalSeconds);
        return [.. offsets];
    }

    [Fact]
    public void The_rollouts_first_step_reads_the_baseline_at_once_then_looks_early_then_keeps_to_the_tick_grid() =>
        Assert.Equal([0.0, 2, 5, 10, 15], Checks(Look, baselineRead: false, 5));

    [Fact]
    public void A_later_step_starts_with_the_early_look() =>
        Assert.Equal([2.0, 5, 10, 15], Checks(Look, baselineRead: true, 4));

    [Fact]
    public void Without_a_first_look_the_checks_come_every_tick_from_one_tick_after_the_weight_change() =>
        Assert.Equal([5.0, 10, 15], Checks(null, baselineRead: false, 3));

    [Fact]
    public void A_first_look_at_or_above_the_tick_adds_no_check() =>
        Assert.Equal([5.0, 10, 15], Checks(TimeSpan.FromSeconds(5), baselineRead: true, 3));

    [Fact]
    public void A_check_that_ran_late_returns_to_the_grid_instead_of_shifting_it() =>
        Assert.Equal(TimeSpan.FromSeconds(15), SequentialSchedule.Next(TimeSpan.FromSeconds(11.5), Tick, Look));
}

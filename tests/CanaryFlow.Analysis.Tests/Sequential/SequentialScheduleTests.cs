using CanaryFlow.Analysis.Sequential;

namespace CanaryFlow.Analysis.Tests.Sequential;

public class SequentialScheduleTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Look = TimeSpan.FromSeconds(2);
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero); // a point of both grids

    // The first n checks after a weight change at T0 + applied seconds, in seconds after T0 (no check runs late).
    private static double[] Checks(double applied, TimeSpan? firstLook, bool baselineRead, int n)
    {
        var start = T0.AddSeconds(applied);
        var offsets = new List<double>();
        var at = SequentialSchedule.First(start, Tick, firstLook, baselineRead);
        for (var i = 0; i < n; i++, at = SequentialSchedule.Next(at, at, start, Tick, firstLook)) offsets.Add(Math.Round((at - T0).TotalSeconds, 3));
        return [.. offsets];
    }

    [Fact]
    public void The_rollouts_first_step_reads_the_baseline_at_once_then_looks_early_then_keeps_to_the_tick_grid() =>
        Assert.Equal([0.0, 2, 5, 10, 15], Checks(0, Look, baselineRead: false, 5));

    [Fact]
    public void A_later_step_looks_early_at_the_first_grid_point_at_least_first_look_after_its_weight_change() =>
        Assert.Equal([64.0, 65, 70], Checks(60.3, Look, baselineRead: true, 3));

    [Fact]
    public void An_off_grid_start_reads_its_baseline_at_the_next_first_look_grid_point() =>
        Assert.Equal([2.0, 4, 5, 10], Checks(0.7, Look, baselineRead: false, 4));

    [Fact]
    public void Rollouts_changing_weight_at_any_moment_check_only_at_the_shared_grid_points()
    {
        // What keeps the namespace's batched counter queries at one set per grid point, whatever the number of canaries.
        var instants = new[] { 0.1, 0.5, 1.3, 2.2, 3.9, 4.4, 7.77, 9.99 }
            .SelectMany(a => Checks(a, Look, baselineRead: true, 4).Concat(Checks(a, Look, baselineRead: false, 4)))
            .Distinct().ToArray();
        Assert.All(instants, t => Assert.True(t % 2 == 0 || t % 5 == 0, $"{t} s is on neither grid"));
    }

    [Fact]
    public void Without_a_first_look_the_checks_come_every_tick_from_one_tick_after_the_weight_change() =>
        Assert.Equal([65.3, 70.3, 75.3], Checks(60.3, null, baselineRead: false, 3));

    [Fact]
    public void A_first_look_at_or_above_the_tick_adds_no_look() =>
        Assert.Equal([65.0, 70, 75], Checks(60.3, TimeSpan.FromSeconds(5), baselineRead: true, 3));

    [Fact]
    public void A_check_answered_late_is_followed_at_once_and_then_by_the_grid()
    {
        Assert.Equal(T0.AddSeconds(15), SequentialSchedule.Next(T0.AddSeconds(10), T0.AddSeconds(13), T0, Tick, Look)); // its grid point still ahead
        var late = SequentialSchedule.Next(T0.AddSeconds(10), T0.AddSeconds(17), T0, Tick, Look);
        Assert.Equal(T0.AddSeconds(17), late);
        Assert.Equal(T0.AddSeconds(20), SequentialSchedule.Next(late, late, T0, Tick, Look));
    }

    [Fact]
    public void Grid_points_are_multiples_of_the_period_since_the_unix_epoch()
    {
        Assert.Equal(T0.AddSeconds(5), SequentialSchedule.GridPoint(T0.AddSeconds(0.001), Tick, strictlyAfter: false));
        Assert.Equal(T0, SequentialSchedule.GridPoint(T0, Tick, strictlyAfter: false));
        Assert.Equal(T0.AddSeconds(5), SequentialSchedule.GridPoint(T0, Tick, strictlyAfter: true));
        Assert.Equal(DateTimeOffset.UnixEpoch.AddSeconds(-5), SequentialSchedule.GridPoint(DateTimeOffset.UnixEpoch.AddSeconds(-7), Tick, strictlyAfter: false));
    }
}

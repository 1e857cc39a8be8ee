using CanaryFlow.Analysis.Batching;

namespace CanaryFlow.Analysis.Tests.Batching;

public class FixedWindowScheduleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero); // a grid point of every grid below

    // The first n checks of a step whose weight was applied at T0 + applied seconds, in seconds after T0 (no check runs late).
    private static double[] Checks(double applied, TimeSpan interval, int n)
    {
        var offsets = new List<double>();
        var from = T0.AddSeconds(applied);
        for (var i = 0; i < n; i++)
        {
            from = FixedWindowSchedule.Next(from, from, interval);
            offsets.Add(Math.Round((from - T0).TotalSeconds, 3));
        }
        return [.. offsets];
    }

    [Theory]
    [InlineData(10, 2)]
    [InlineData(2, 0.4)]
    [InlineData(60, 10)]
    [InlineData(3600, 10)]
    public void The_grid_is_a_fifth_of_the_interval_and_never_more_than_ten_seconds(double intervalSeconds, double gridSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(gridSeconds), FixedWindowSchedule.Grid(TimeSpan.FromSeconds(intervalSeconds)));

    [Fact]
    public void A_steps_checks_come_one_interval_apart_from_the_first_grid_point_at_least_an_interval_after_its_weight() =>
        Assert.Equal([12.0, 22, 32], Checks(0.7, TimeSpan.FromSeconds(10), 3));

    [Fact]
    public void Rollouts_changing_weight_at_any_moment_check_only_at_the_shared_grid_points()
    {
        // What keeps a namespace's batched queries at interval / grid query sets per interval, whatever the number of canaries:
        // eight steps starting at scattered instants are checked at three instants only.
        var interval = TimeSpan.FromSeconds(10);
        var instants = new[] { 0.1, 0.5, 1.3, 1.99, 2.2, 3.9, 4.4, 5.9 }.SelectMany(a => Checks(a, interval, 1)).Distinct().Order().ToArray();
        Assert.Equal([12.0, 14, 16], instants);
    }

    [Fact]
    public void A_check_comes_at_least_one_interval_and_at_most_one_interval_plus_a_grid_period_after_its_weight()
    {
        // Never earlier than before (its window [due - interval, due] does not reach back before the weight changed),
        // at most a grid period later.
        var interval = TimeSpan.FromSeconds(75); // not a multiple of its 10 s grid: each check is put back on the grid
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var applied = T0.AddSeconds(random.NextDouble() * 1000);
            var due = FixedWindowSchedule.Next(applied, applied, interval);
            Assert.InRange(due - applied, interval, interval + FixedWindowSchedule.Grid(interval));
            var next = FixedWindowSchedule.Next(due, due, interval);
            Assert.InRange(next - due, interval, interval + FixedWindowSchedule.Grid(interval));
            Assert.Equal(0, (next - T0).Ticks % FixedWindowSchedule.Grid(interval).Ticks);
        }
    }

    [Fact]
    public void A_controller_that_was_down_past_a_check_checks_at_once() =>
        Assert.Equal(T0.AddSeconds(100), FixedWindowSchedule.Next(T0, T0.AddSeconds(100), TimeSpan.FromSeconds(10)));
}

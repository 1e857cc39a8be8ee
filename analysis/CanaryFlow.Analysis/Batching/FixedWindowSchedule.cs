using CanaryFlow.Analysis.Sequential;

namespace CanaryFlow.Analysis.Batching;

/// <summary>
/// When the fixed-window checks are due: one interval after the weight was applied (or after the last check was due),
/// moved forward to the next point of a grid shared by every rollout with the same interval (multiples of
/// <see cref="Grid"/> since the Unix epoch). The runner shares a namespace's queries between checks due at the same
/// instant (<see cref="WorkloadQueryBatcher"/>), so a namespace costs at most interval / grid query sets per interval
/// however many canaries it has. Scheduled from each step's own start, checks spread over the whole interval and each
/// fell in its own batch window: at 10,000 canaries over 3 replicas, 59 query sets per 10 s interval, which the
/// benchmark's Prometheus could not answer in time (docs/benchmarks.md, "10,000 over 3 on merged main").
/// A check comes at most one grid period (a fifth of the interval, 10 s at most) later than before, never earlier, so
/// its window [due − interval, due] never reaches back before the step's weight was applied.
/// </summary>
public static class FixedWindowSchedule
{
    /// <summary>Grid points per interval: more means less delay per step and more query sets per interval.</summary>
    public const int PointsPerInterval = 5;

    /// <summary>The largest grid period, so that long intervals do not delay a step by minutes.</summary>
    public static readonly TimeSpan MaxGrid = TimeSpan.FromSeconds(10);

    public static TimeSpan Grid(TimeSpan interval)
    {
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), interval, "an analysis interval must be positive");
        var grid = interval / PointsPerInterval;
        return grid < MaxGrid ? grid : MaxGrid;
    }

    /// <summary>The check after <paramref name="from"/> (the weight's application, or the due time of the last check):
    /// the first grid point at or after <paramref name="from"/> + <paramref name="interval"/>; never before
    /// <paramref name="now"/> (a controller that was down checks once at once, then on the grid again).</summary>
    public static DateTimeOffset Next(DateTimeOffset from, DateTimeOffset now, TimeSpan interval)
    {
        var next = SequentialSchedule.GridPoint(from + interval, Grid(interval), strictlyAfter: false);
        return next < now ? now : next;
    }
}

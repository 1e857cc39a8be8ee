using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// When sequential checks are due: on one grid shared by every rollout, the multiples of the tick since the Unix
/// epoch. The runner reads a namespace's counters with one query set per evaluation instant (WorkloadQueryBatcher), so
/// checks scheduled per rollout (step start + k·tick) spread over the tick and cost up to tick/batch-window query sets
/// per tick: at 1,000 Canaries that timed Prometheus out and held most rollouts. On the grid, a namespace costs one query
/// set per tick however many canaries it has (issue 12: "Prometheus load independent of the number of canaries").
/// The first check at a new weight is the next grid point, within one tick (half a tick on average, where a check
/// scheduled from the step start waited a whole tick); later checks follow every tick.
/// </summary>
public static class SequentialSchedule
{
    /// <summary>The first grid point strictly after <paramref name="after"/>.</summary>
    public static DateTimeOffset NextGridPoint(DateTimeOffset after, TimeSpan tick)
    {
        var t = after.ToUnixTimeMilliseconds();
        var step = Math.Max(1, (long)tick.TotalMilliseconds);
        return DateTimeOffset.FromUnixTimeMilliseconds((t / step + 1) * step).ToOffset(after.Offset);
    }

    /// <summary>The first check after a weight was applied at <paramref name="now"/>.</summary>
    public static DateTimeOffset FirstCheck(SequentialSpec spec, DateTimeOffset now) => NextGridPoint(now, spec.Tick);

    /// <summary>The check after the one that was due at <paramref name="due"/> and answered at <paramref name="now"/>: the
    /// next grid point, never in the past (a controller that was down checks once at once, then on the grid).</summary>
    public static DateTimeOffset NextCheck(SequentialSpec spec, DateTimeOffset due, DateTimeOffset now)
    {
        var next = NextGridPoint(due, spec.Tick);
        return next < now ? now : next;
    }
}

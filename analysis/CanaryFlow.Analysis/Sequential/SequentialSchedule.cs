namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// When the sequential checks are due. One function for the controller (the rollout state schedules its checks with
/// it) and the benchmark (its judge looks at the same times), so the figures describe what the controller does.
/// <para>
/// With a <c>firstLook</c>, checks fall on two grids shared by every rollout: the multiples of the tick since the Unix
/// epoch, and the multiples of firstLook. The runner shares a namespace's counter queries between checks due at the
/// same instant (WorkloadQueryBatcher), so a namespace costs at most one query set per grid point, however many
/// canaries it has; checks scheduled from each step's own start would spread over the tick and cost a query set each.
/// After a weight change: the rollout's very first check reads the baseline at once (the next firstLook grid point:
/// before the canary has served much, instead of spending a whole tick on it); every step has an early look at the
/// first firstLook grid point at least firstLook after the change (2–4 s for 2 s); then the checks follow the tick
/// grid. Why an early look: right after a weight change a broken canary does the most harm per second of delay (the
/// weight just went up, nothing has judged the new traffic yet), and a look costs one query set per namespace. A
/// firstLook at or above the tick adds no look. Like the tick it is best at least the Prometheus scrape interval (a
/// look before the next scrape reads the same counters).
/// </para>
/// Without a firstLook (null: a plan written before it existed) the checks come as they did: one tick after the
/// weight change and every tick after the last one was due, the first of the rollout spent on the baseline.
/// </summary>
public static class SequentialSchedule
{
    /// <summary>The first check after the weight was applied at <paramref name="applied"/>.</summary>
    /// <param name="baselineRead">Whether the running evidence already holds counters (false before the rollout's first read).</param>
    public static DateTimeOffset First(DateTimeOffset applied, TimeSpan tick, TimeSpan? firstLook, bool baselineRead)
    {
        Positive(tick);
        if (firstLook is not { } look || look <= TimeSpan.Zero) return applied + tick;
        if (look >= tick) return GridPoint(applied, tick, strictlyAfter: baselineRead);
        return baselineRead ? EarlyLook(applied, look) : GridPoint(applied, look, strictlyAfter: false);
    }

    /// <summary>The check after one due at <paramref name="due"/> and answered at <paramref name="now"/>: the step's early
    /// look if it is still ahead (after the baseline read), else the next tick grid point (without a firstLook, one tick
    /// later); never in the past (a controller that was down checks once at once, then on the grid).</summary>
    /// <param name="stepStarted">When the step's weight was applied; null before the first step (no early look).</param>
    public static DateTimeOffset Next(DateTimeOffset due, DateTimeOffset now, DateTimeOffset? stepStarted, TimeSpan tick, TimeSpan? firstLook)
    {
        Positive(tick);
        DateTimeOffset next;
        if (firstLook is not { } look || look <= TimeSpan.Zero) next = due + tick;
        else
        {
            next = GridPoint(due, tick, strictlyAfter: true);
            if (look < tick && stepStarted is { } started && EarlyLook(started, look) is var early && early > due && early < next) next = early;
        }
        return next < now ? now : next;
    }

    /// <summary>A step's early look: the first firstLook grid point at least firstLook after its weight was applied.</summary>
    public static DateTimeOffset EarlyLook(DateTimeOffset applied, TimeSpan firstLook) => GridPoint(applied + firstLook, firstLook, strictlyAfter: false);

    /// <summary>The first multiple of <paramref name="period"/> since the Unix epoch at (or strictly after) <paramref name="t"/>.</summary>
    public static DateTimeOffset GridPoint(DateTimeOffset t, TimeSpan period, bool strictlyAfter)
    {
        Positive(period);
        var since = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var k = Math.DivRem(since, period.Ticks, out var rest);
        if (rest < 0) { k--; rest += period.Ticks; }  // floor for times before the epoch
        if (rest > 0 || strictlyAfter) k++;
        return new DateTimeOffset(DateTimeOffset.UnixEpoch.UtcTicks + k * period.Ticks, TimeSpan.Zero);
    }

    private static void Positive(TimeSpan period)
    {
        if (period <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(period), period, "a schedule period must be positive");
    }
}

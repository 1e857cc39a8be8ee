namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// When the sequential checks of a step are due, as offsets from the moment its weight was applied. One function
/// for the controller (the rollout state schedules its checks with it) and the benchmark (its judge looks at the same
/// offsets), so the figures describe what the controller does.
/// <para>
/// With a <c>firstLook</c>: a rollout's very first check is due at once (offset 0: it reads the baseline counters
/// before the canary has served much, instead of spending the first tick on it); every step then has one early look
/// at <c>firstLook</c> (say 2 s), and after it the checks keep to the step's tick grid (tick, 2·tick, ...), so the step
/// still ends on a tick. Why an early look: right after a weight change a broken canary does the most harm per second
/// of delay (the weight just went up, nothing has judged the new traffic yet), and a look costs one query. A
/// firstLook at or above the tick adds nothing; it is best at least the Prometheus scrape interval (a look before the
/// next scrape reads the same counters). Without a firstLook (null) the checks come every tick from one tick after
/// the weight change, the first of the rollout spent on the baseline.
/// </para>
/// </summary>
public static class SequentialSchedule
{
    /// <summary>The first check after a weight change.</summary>
    /// <param name="baselineRead">Whether the running evidence already holds counters (false before the rollout's first read).</param>
    public static TimeSpan First(TimeSpan tick, TimeSpan? firstLook, bool baselineRead) =>
        firstLook is null ? tick : baselineRead ? Next(TimeSpan.Zero, tick, firstLook) : TimeSpan.Zero;

    /// <summary>The check after one due at <paramref name="offset"/> from the step's start: the early look if it is
    /// still ahead, else the next point of the tick grid.</summary>
    public static TimeSpan Next(TimeSpan offset, TimeSpan tick, TimeSpan? firstLook)
    {
        if (tick <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(tick), tick, "the tick must be positive");
        if (firstLook is { } look && look > TimeSpan.Zero && look < tick && offset < look) return look;
        var passed = offset < TimeSpan.Zero ? 0 : offset.Ticks / tick.Ticks + 1;
        return TimeSpan.FromTicks(passed * tick.Ticks);
    }
}

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>
/// When a message whose channel is down is tried again, and what that costs the channel. Round 1 starts when
/// the message reaches the head of its queue; round k+1 starts <see cref="DelayAfter"/>(k) after round k failed.
/// </summary>
public sealed class RedeliverySchedule(NotificationOptions options)
{
    /// <summary>Failed requests in a row that open a channel's circuit (the breaker's minimum throughput).</summary>
    public const int FailuresToOpen = 3;

    /// <summary>The wait after failed round <paramref name="round"/> (1-based): RedeliveryDelay, doubling, capped.</summary>
    public TimeSpan DelayAfter(int round)
    {
        var delay = options.RedeliveryDelay;
        for (var i = 1; i < round && delay < options.MaxRedeliveryDelay; i++) delay *= 2;
        return delay < options.MaxRedeliveryDelay ? delay : options.MaxRedeliveryDelay;
    }

    /// <summary>At most this many rounds start within <paramref name="outage"/> (round durations ignored, so an upper bound).</summary>
    public int MaxRoundsWithin(TimeSpan outage)
    {
        var rounds = 1;
        for (var waited = DelayAfter(1); waited <= outage; waited += DelayAfter(++rounds)) { }
        return rounds;
    }

    /// <summary>
    /// The most HTTP requests one dispatcher sends a channel that refuses everything for <paramref name="outage"/>:
    /// only the head of its queue is tried, so at most MaxAttempts per round; and the circuit breaker lets
    /// <see cref="FailuresToOpen"/> requests through, then one probe per BreakDuration. The smaller bound holds.
    /// </summary>
    public int MaxRequestsDuring(TimeSpan outage)
    {
        var byRounds = options.MaxAttempts * MaxRoundsWithin(outage);
        var byBreaker = FailuresToOpen + (int)Math.Ceiling(outage / options.BreakDuration) + 1;
        return Math.Min(byRounds, byBreaker);
    }
}

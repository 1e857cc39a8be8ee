using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Notifications.Delivery;

namespace CanaryFlow.Controller.Tests.Notifications;

public sealed class RedeliveryScheduleTests
{
    private static readonly RedeliverySchedule Defaults = new(new NotificationOptions());

    [Fact]
    public void Rounds_wait_1_2_4_then_every_5_minutes_with_the_defaults()
    {
        Assert.Equal([1, 2, 4, 5, 5, 5], Enumerable.Range(1, 6).Select(r => Defaults.DelayAfter(r).TotalMinutes));
    }

    [Fact]
    public void A_dead_channel_costs_at_most_MaxAttempts_per_round_or_what_the_breaker_lets_through_whichever_is_less()
    {
        // An hour: rounds start at 0, 1, 3, 7, 12, 17, ... 57 minutes: 14 rounds of at most 5 requests; the breaker
        // would allow 3 + 120 + 1.
        Assert.Equal(14, Defaults.MaxRoundsWithin(TimeSpan.FromHours(1)));
        Assert.Equal(70, Defaults.MaxRequestsDuring(TimeSpan.FromHours(1)));
        Assert.Equal(1, Defaults.MaxRoundsWithin(TimeSpan.FromSeconds(59)));
        // With rounds far apart and a short break, the breaker's bound is the smaller one.
        var tight = new RedeliverySchedule(new NotificationOptions { MaxAttempts = 10, RedeliveryDelay = TimeSpan.FromSeconds(10), MaxRedeliveryDelay = TimeSpan.FromSeconds(10), BreakDuration = TimeSpan.FromMinutes(5) });
        Assert.Equal(3 + 12 + 1, tight.MaxRequestsDuring(TimeSpan.FromHours(1)));
    }
}

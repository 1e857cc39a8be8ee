using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Leadership;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>When a standby may take another replica's Lease: on time when the clocks agree, never overlapping when they do not.</summary>
public sealed class LeaseExpiryTests
{
    private static readonly DateTimeOffset Seen = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Trust = LeaseExpiry.Trust(new KubernetesOptions()); // 15 - 10 - 2 = 3 s

    [Fact]
    public void A_lease_renewed_before_it_was_seen_expires_at_its_renewal_plus_the_duration()
    {
        var renewed = Seen - TimeSpan.FromSeconds(1.8); // seen one poll late

        Assert.Equal(renewed + Duration, LeaseExpiry.TakeableAt(renewed, Duration, Seen, Trust));
    }

    [Fact]
    public void A_renewal_time_far_in_the_past_is_trusted_only_up_to_the_safe_margin()
    {
        var renewed = Seen - TimeSpan.FromSeconds(30); // a skewed clock, or a stale record

        Assert.Equal(Seen + Duration - Trust, LeaseExpiry.TakeableAt(renewed, Duration, Seen, Trust));
    }

    [Fact]
    public void A_renewal_time_in_the_future_falls_back_to_the_sighting()
    {
        Assert.Equal(Seen + Duration, LeaseExpiry.TakeableAt(Seen + TimeSpan.FromSeconds(5), Duration, Seen, Trust));
        Assert.Equal(Seen + Duration, LeaseExpiry.TakeableAt(null, Duration, Seen, Trust));
    }

    [Fact]
    public void The_old_leader_has_stopped_before_any_standby_may_take_over()
    {
        var o = new KubernetesOptions();
        // The leader stops acting once no renewal succeeded for RenewDeadline; the standby saw that renewal
        // at or after it was made, whatever renewTime says.
        foreach (var skew in new[] { -60.0, -3, -1, 0, 1, 3, 60 })
        {
            var takeable = LeaseExpiry.TakeableAt(Seen + TimeSpan.FromSeconds(skew), o.LeaseDuration, Seen, LeaseExpiry.Trust(o));
            Assert.True(takeable >= Seen + o.RenewDeadline + o.RetryPeriod, $"skew {skew}s: takeable {takeable - Seen} after the renewal was seen");
        }
    }

    [Fact]
    public void Tight_options_trust_nothing_but_the_sighting()
    {
        var tight = new KubernetesOptions { LeaseDuration = TimeSpan.FromSeconds(10), RenewDeadline = TimeSpan.FromSeconds(9), RetryPeriod = TimeSpan.FromSeconds(2) };

        Assert.Equal(TimeSpan.Zero, LeaseExpiry.Trust(tight));
        Assert.Equal(Seen + Duration, LeaseExpiry.TakeableAt(Seen - TimeSpan.FromSeconds(5), Duration, Seen, LeaseExpiry.Trust(tight)));
    }
}

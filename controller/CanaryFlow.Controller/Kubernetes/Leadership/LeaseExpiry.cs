namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// When a standby may take a Lease that another replica holds.
/// <para>client-go's rule is "the local time this record was first seen, plus the lease duration": immune to
/// clock skew, but late by up to one poll, so a standby takes a dead leader's lease up to a retry period after it
/// expired. The record's own renewTime gives the true expiry when the clocks agree. This trusts renewTime, but
/// never by more than <paramref name="trust"/> ahead of client-go's rule. With trust = lease duration − renew
/// deadline − retry period, two leaders can never overlap, whatever the skew: the standby still acts no
/// earlier than (the renewal) + renew deadline + retry period, and the old leader has stopped acting at
/// (its last successful renewal) + renew deadline.</para>
/// </summary>
public static class LeaseExpiry
{
    public static DateTimeOffset TakeableAt(DateTimeOffset? renewTime, TimeSpan leaseDuration, DateTimeOffset firstSeen, TimeSpan trust)
    {
        var bySighting = firstSeen + leaseDuration;
        if (renewTime is not { } renewed) return bySighting;
        var byRenewal = renewed + leaseDuration;
        var earliest = bySighting - (trust > TimeSpan.Zero ? trust : TimeSpan.Zero);
        return byRenewal < earliest ? earliest : byRenewal > bySighting ? bySighting : byRenewal;
    }

    /// <summary>How far renewTime is trusted for options <paramref name="o"/> (zero: client-go's rule exactly).</summary>
    public static TimeSpan Trust(KubernetesOptions o)
    {
        var trust = o.LeaseDuration - o.RenewDeadline - o.RetryPeriod;
        return trust > TimeSpan.Zero ? trust : TimeSpan.Zero;
    }
}

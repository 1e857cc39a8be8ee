using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// client-go's Lease record, written and read the one way both electors use (the single leader's
/// <see cref="LeaseLeadership"/> and the partitions' <see cref="PartitionLeases"/>): every write conditional on the
/// resourceVersion read, acquireTime kept while the same holder renews, leaseTransitions counted when another holder
/// takes it, and the expiry by <see cref="LeaseExpiry"/>.
/// </summary>
public static class LeaseRecord
{
    /// <summary>The Lease <paramref name="read"/> (null: none yet) as written for <paramref name="holder"/> ("" hands it
    /// back) at <paramref name="now"/>; its labels and annotations are kept.</summary>
    public static V1Lease For(string name, string ns, V1Lease? read, string holder, DateTimeOffset now, TimeSpan duration)
    {
        var renewing = holder.Length > 0 && read?.Spec?.HolderIdentity == holder;
        return new V1Lease
        {
            Metadata = new V1ObjectMeta
            {
                Name = name, NamespaceProperty = ns, ResourceVersion = read?.Metadata.ResourceVersion,
                Labels = read?.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : null,
                Annotations = read?.Metadata.Annotations is { } a ? new Dictionary<string, string>(a) : null,
            },
            Spec = new V1LeaseSpec
            {
                HolderIdentity = holder,
                LeaseDurationSeconds = (int)Math.Ceiling(duration.TotalSeconds),
                AcquireTime = renewing ? read!.Spec!.AcquireTime : now.UtcDateTime,
                RenewTime = now.UtcDateTime,
                LeaseTransitions = (read?.Spec?.LeaseTransitions ?? 0) + (holder.Length > 0 && !renewing && read is not null ? 1 : 0),
            },
        };
    }

    /// <summary>Creates (<paramref name="create"/>) or replaces the Lease, conditional on its resourceVersion; null when
    /// another writer got there first (409).</summary>
    public static async Task<V1Lease?> WriteAsync(IKubernetes client, V1Lease lease, bool create, CancellationToken ct)
    {
        var ns = lease.Metadata.NamespaceProperty;
        try
        {
            return create
                ? await client.CoordinationV1.CreateNamespacedLeaseAsync(lease, ns, cancellationToken: ct)
                : await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, lease.Metadata.Name, ns, cancellationToken: ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { return null; }
    }

    /// <summary>When another replica may take <paramref name="lease"/>, first seen changed at <paramref name="firstSeen"/>
    /// (see <see cref="LeaseExpiry"/>); the Lease's own duration, else <paramref name="defaultDuration"/>.</summary>
    public static DateTimeOffset TakeableAt(V1Lease lease, TimeSpan defaultDuration, DateTimeOffset firstSeen, TimeSpan trust)
    {
        var duration = lease.Spec?.LeaseDurationSeconds is > 0 and var s ? TimeSpan.FromSeconds(s) : defaultDuration;
        var renewed = lease.Spec?.RenewTime is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : (DateTimeOffset?)null;
        return LeaseExpiry.TakeableAt(renewed, duration, firstSeen, trust);
    }

    /// <summary>A retry period ±10%, so that replicas started together do not poll in lockstep.</summary>
    public static TimeSpan Jittered(TimeSpan period) => period * (0.9 + 0.2 * Random.Shared.NextDouble());
}

using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Leadership;
using k8s;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>Which replica holds each rollout partition, for the cluster-wide status view.</summary>
public interface IPartitionHolders
{
    /// <summary>This replica's name (its Lease holder identity), or null without sharding.</summary>
    string? Self { get; }

    /// <summary>Partition → holder identity, for the partitions whose Lease has a holder now (unexpired).</summary>
    Task<IReadOnlyDictionary<int, string>> HoldersAsync(CancellationToken ct);
}

/// <summary>No sharding: one replica acts for everything; nobody else to name.</summary>
public sealed class NoPartitionHolders : IPartitionHolders
{
    public string? Self => null;
    public Task<IReadOnlyDictionary<int, string>> HoldersAsync(CancellationToken ct) => Task.FromResult<IReadOnlyDictionary<int, string>>(new Dictionary<int, string>());
}

/// <summary>
/// Reads the partition Leases (one small list, <c>{LeaseName}-p{n}</c> by their set label), at most once every few
/// seconds however often the status page asks: a page refresh costs the API server one list of a dozen Leases.
/// </summary>
public sealed class LeasePartitionHolders(IKubernetes client, IOptions<KubernetesOptions> options, IOptions<ShardingOptions> sharding,
    PartitionLeases self, TimeProvider time) : IPartitionHolders
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTimeOffset At, IReadOnlyDictionary<int, string> Holders)? _read;

    public string? Self => self.Identity;

    public async Task<IReadOnlyDictionary<int, string>> HoldersAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow();
            if (_read is { } r && now - r.At < Fresh) return r.Holders;
            var o = options.Value;
            var list = await client.CoordinationV1.ListNamespacedLeaseAsync(o.LeaseNamespace, labelSelector: $"{PartitionLeases.SetLabel}={o.LeaseName}", cancellationToken: ct);
            var prefix = o.LeaseName + "-p";
            var holders = new Dictionary<int, string>();
            foreach (var lease in list.Items)
            {
                if (!lease.Metadata.Name.StartsWith(prefix, StringComparison.Ordinal) || !int.TryParse(lease.Metadata.Name[prefix.Length..], out var p)
                    || p >= sharding.Value.Partitions || lease.Spec?.HolderIdentity is not { Length: > 0 } holder) continue;
                var renewed = lease.Spec.RenewTime is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : DateTimeOffset.MinValue;
                if (now < renewed + TimeSpan.FromSeconds(lease.Spec.LeaseDurationSeconds ?? 15)) holders[p] = holder; // expired: nobody holds it
            }
            _read = (now, holders);
            return holders;
        }
        finally { _gate.Release(); }
    }
}

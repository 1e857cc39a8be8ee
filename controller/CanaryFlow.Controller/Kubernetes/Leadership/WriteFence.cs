namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// Closed while this replica does not lead: every write to the API server (except the Lease itself) is then
/// refused inside the client's HTTP stack, so that a replica that lost the lease cannot act, whatever code
/// path (saga worker, consumer, watch) tries. Open for good when leader election is off.
/// <para>With sharding (active-active replicas) the fence is per partition: a write made for one rollout (inside
/// <see cref="PartitionScope.Enter"/>: every consumer of a partition's queue, the watch acting for a Canary) passes
/// only while this replica holds that partition's Lease; writes for no rollout in particular (a registry webhook
/// updating an image) pass as without election.</para>
/// </summary>
public sealed class WriteFence(bool open)
{
    private volatile bool _open = open;
    private volatile Func<int, bool>? _partitionHeld;

    public bool IsOpen => _open;

    internal void Set(bool open) => _open = open;

    /// <summary>Sharding on: <paramref name="held"/> tells whether a partition's Lease is held now.</summary>
    internal void FenceByPartition(Func<int, bool> held) => _partitionHeld = held;

    /// <summary>Whether a write may leave this replica now, for the rollout partition the caller acts for (if any).</summary>
    public bool AllowsWrite() =>
        PartitionScope.Current is { } partition && _partitionHeld is { } held ? held(partition) : _open;
}

/// <summary>The rollout partition the current code acts for (flows with the async call, like a log scope).</summary>
public static class PartitionScope
{
    private static readonly AsyncLocal<int?> Partition = new();

    public static int? Current => Partition.Value;

    /// <summary>Acts for <paramref name="partition"/> until disposed.</summary>
    public static IDisposable Enter(int partition)
    {
        var before = Partition.Value;
        Partition.Value = partition;
        return new Restore(before);
    }

    private sealed class Restore(int? before) : IDisposable
    {
        public void Dispose() => Partition.Value = before;
    }
}

public sealed class NotLeaderException(string method, string? path)
    : InvalidOperationException($"This replica does not lead: {method} {path} refused (another replica may be acting).");

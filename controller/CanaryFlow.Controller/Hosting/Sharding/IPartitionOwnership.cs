using System.Threading.Channels;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>One partition taken (<paramref name="Held"/>) or given up. <paramref name="Done"/> completes once the
/// engine has acted on it (queue consuming, or queue stopped), so that a partition is released only after that.</summary>
public sealed record PartitionChange(int Partition, bool Held)
{
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Which rollouts this replica may act for. Without sharding one partition, always held (see
/// <see cref="WholeOwnership"/>); with sharding, the partitions whose Lease this replica holds.
/// </summary>
public interface IPartitionOwnership
{
    int Partitions { get; }

    /// <summary>True only while the partition's Lease is held and its renew deadline has not passed: the same test as
    /// the write fence, so nothing acts for a partition the fence would refuse.</summary>
    bool Owns(int partition);

    /// <summary>Cancelled at the next change of the partitions held (a fresh token after each).</summary>
    CancellationToken Changed { get; }

    /// <summary>The changes, in order, for the engine (one reader).</summary>
    ChannelReader<PartitionChange> Changes { get; }

    /// <summary>Stops holding a partition this replica could not serve: the fence closes at once and the Lease is left to
    /// expire, so that another replica (or this one, later) takes it.</summary>
    Task GiveUpAsync(int partition);
}

/// <summary>No sharding: this replica owns everything (its leader election, if any, decides whether it acts at all).</summary>
public sealed class WholeOwnership : IPartitionOwnership
{
    private readonly Channel<PartitionChange> _none = Channel.CreateUnbounded<PartitionChange>();
    public int Partitions => 1;
    public bool Owns(int partition) => true;
    public CancellationToken Changed => CancellationToken.None;
    public ChannelReader<PartitionChange> Changes => _none.Reader;
    public Task GiveUpAsync(int partition) => Task.CompletedTask;
}

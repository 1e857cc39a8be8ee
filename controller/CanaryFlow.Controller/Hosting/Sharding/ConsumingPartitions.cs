using System.Collections.Concurrent;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>Which rollouts the ticker of this replica looks after (all of them without sharding).</summary>
public interface IActingRollouts
{
    bool Acts(RolloutState state);
}

/// <summary>
/// The partitions whose queue this replica consumes, one <see cref="PartitionHolding"/> each. The ticker acts for a
/// rollout only while its partition is held and that holding's barrier has passed (see <see cref="PartitionHolding"/>):
/// by then every message sent into the partition before this replica took it has been consumed, so the previous
/// holder's last check results are in the saga's state and no check is asked for again.
/// </summary>
public sealed class ConsumingPartitions(IPartitionOwnership ownership) : IActingRollouts
{
    private readonly ConcurrentDictionary<int, PartitionHolding> _held = new();

    /// <summary>The partitions whose rollouts the ticker acts for.</summary>
    public IReadOnlyList<int> Partitions => _held.Where(h => h.Value.Acting).Select(h => h.Key).Order().ToList();

    /// <summary>A fresh holding, before the partition's queue is connected.</summary>
    public PartitionHolding Connecting(int partition, CheckTokens checks, TimeProvider time) =>
        _held[partition] = new PartitionHolding(partition, checks, time);

    /// <summary>Every holding, its barrier passed or not.</summary>
    public IReadOnlyList<PartitionHolding> Holdings => _held.Values.ToList();

    public void Stopped(int partition) => _held.TryRemove(partition, out _);

    public bool Acts(RolloutState state)
    {
        var p = RolloutPartitions.Of(state.CorrelationId, ownership.Partitions);
        return ownership.Owns(p) && _held.TryGetValue(p, out var holding) && holding.Acting;
    }
}

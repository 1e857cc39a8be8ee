using System.Collections.Concurrent;
using CanaryFlow.Controller.Rollouts;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>Which rollouts the ticker of this replica looks after (all of them without sharding).</summary>
public interface IActingRollouts
{
    bool Acts(RolloutState state);
}

/// <summary>
/// The partitions whose queue this replica consumes, and since when. The ticker acts for a rollout only while its
/// partition is held and its queue has consumed for <see cref="ShardingOptions.TickGrace"/>: by then the previous
/// owner's last replies (a check it ran) have reached the saga, so the check is not asked for again.
/// </summary>
public sealed class ConsumingPartitions(IPartitionOwnership ownership, IOptions<ShardingOptions> sharding, TimeProvider time) : IActingRollouts
{
    private readonly ConcurrentDictionary<int, DateTimeOffset> _since = new();

    public IReadOnlyList<int> Partitions => _since.Keys.Order().ToList();

    public void Started(int partition) => _since[partition] = time.GetUtcNow();

    public void Stopped(int partition) => _since.TryRemove(partition, out _);

    public bool Acts(RolloutState state)
    {
        var p = RolloutPartitions.Of(state.CorrelationId, ownership.Partitions);
        return ownership.Owns(p) && _since.TryGetValue(p, out var since) && time.GetUtcNow() - since >= sharding.Value.TickGrace;
    }
}

using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Before the bus consumes anything, reads every stored rollout afresh from the durable copy into the store's snapshots,
/// which the saga repository loads each message's rollout from (<see cref="RolloutSagaRepository"/>), so that a
/// restarted controller (or a new leader) continues each one from where it was. That first read runs under every rollout
/// lock: no saga message runs meanwhile, so a list read before one of this replica's saves cannot put an older copy of
/// that rollout back over it (its next save would then meet a version conflict).
/// With sharded replicas, reads afresh the rollouts of the partitions this replica takes (another replica may have moved
/// them on), before their queue is connected: no message of theirs runs here then, so no lock is taken and the partitions
/// held already go on (under every lock, a take-over held all of them for the length of the list: 47 s once at 3,000
/// Canaries). A message of an earlier holding that ends late meets a version conflict once, and the store's snapshot
/// takes the durable copy for its retry.
/// A partition given up needs nothing here: the store drops its snapshots as the loss is announced
/// (<c>CanaryStatusRolloutStore</c>), so a late message for one of its rollouts finds none.
/// </summary>
public sealed class RolloutRehydrator(IRolloutStore store, RolloutLocks locks, ILogger<RolloutRehydrator> log)
{
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        int count;
        using (await locks.EnterAllAsync(cancellationToken))
            count = (await store.LoadAllAsync(cancellationToken, fresh: true)).Count;
        log.LogInformation("Resumed {Count} rollouts from the store", count);
    }

    /// <summary>Reads afresh the rollouts <paramref name="which"/> selects (those of partitions just taken); returns how many
    /// the store holds now.</summary>
    public Task<int> LoadAsync(Func<Guid, bool> which, CancellationToken cancellationToken) => store.ReloadAsync(which, cancellationToken);
}

using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Before the bus consumes anything, reads every stored rollout afresh from the durable copy into the store's snapshots,
/// which the saga repository loads each message's rollout from (<see cref="RolloutSagaRepository"/>), so that a
/// restarted controller (or a new leader) continues each one from where it was. With sharded replicas, reads afresh
/// when this replica takes partitions (another replica may have moved their rollouts on).
/// A partition given up needs nothing here: the store drops its snapshots as the loss is announced
/// (<c>CanaryStatusRolloutStore</c>), so a late message for one of its rollouts finds none.
/// The fresh read runs under every rollout lock: no saga message runs meanwhile, so a list read before one of this
/// replica's saves cannot put an older copy of that rollout back over it (its next save would then meet a version conflict).
/// </summary>
public sealed class RolloutRehydrator(IRolloutStore store, RolloutLocks locks, ILogger<RolloutRehydrator> log)
{
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var count = await LoadAsync(_ => true, cancellationToken);
        log.LogInformation("Resumed {Count} rollouts from the store", count);
    }

    /// <summary>Reads the store afresh; returns how many of the rollouts <paramref name="which"/> selects it holds now.</summary>
    public async Task<int> LoadAsync(Func<RolloutState, bool> which, CancellationToken cancellationToken)
    {
        using (await locks.EnterAllAsync(cancellationToken))
            return (await store.LoadAllAsync(cancellationToken, fresh: true)).Count(which);
    }
}

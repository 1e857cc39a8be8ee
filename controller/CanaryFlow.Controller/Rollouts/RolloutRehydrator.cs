using CanaryFlow.Controller.Seams;
using MassTransit;
using MassTransit.Saga;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Before the bus consumes anything, loads every stored rollout into the saga repository, so that a
/// restarted controller (or a new leader) continues each one from where it was. With sharded replicas, loads
/// the rollouts of a partition when this replica takes it, and drops them when it gives it up.
/// </summary>
public sealed class RolloutRehydrator(IRolloutStore store, IndexedSagaDictionary<RolloutState> sagas, ILogger<RolloutRehydrator> log)
{
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var states = await store.LoadAllAsync(cancellationToken, fresh: true);
        foreach (var state in states)
            sagas.Add(new SagaInstance<RolloutState>(state.Clone()));
        log.LogInformation("Resumed {Count} rollouts from the store", states.Count);
    }

    /// <summary>Loads (as stored now, replacing any copy in memory) the rollouts <paramref name="which"/> selects.</summary>
    public async Task<int> LoadAsync(Func<RolloutState, bool> which, CancellationToken cancellationToken)
    {
        var states = (await store.LoadAllAsync(cancellationToken, fresh: true)).Where(which).ToList();
        await sagas.MarkInUse(cancellationToken);
        try
        {
            foreach (var state in states)
            {
                if (sagas[state.CorrelationId] is { } old) sagas.Remove(old);
                sagas.Add(new SagaInstance<RolloutState>(state.Clone()));
            }
        }
        finally { sagas.Release(); }
        return states.Count;
    }

    /// <summary>Drops from memory the rollouts <paramref name="which"/> selects (another replica owns them now).</summary>
    public async Task UnloadAsync(Func<RolloutState, bool> which, CancellationToken cancellationToken)
    {
        await sagas.MarkInUse(cancellationToken);
        try
        {
            foreach (var instance in sagas.Where(new SagaQuery<RolloutState>(s => which(s))).ToList()) sagas.Remove(instance);
        }
        finally { sagas.Release(); }
    }
}

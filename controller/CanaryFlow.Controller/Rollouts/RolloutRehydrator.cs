using CanaryFlow.Controller.Seams;
using MassTransit.Saga;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Before the bus consumes anything, loads every stored rollout into the saga repository, so that a
/// restarted controller (or a new leader) continues each one from where it was.
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
}

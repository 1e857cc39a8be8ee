using CanaryFlow.Controller.Seams;
using MassTransit.Saga;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// On start, before the bus consumes anything, loads every stored rollout into the saga repository,
/// so that a restarted controller continues each one from where it was.
/// </summary>
public sealed class RolloutRehydrator(IRolloutStore store, IndexedSagaDictionary<RolloutState> sagas, ILogger<RolloutRehydrator> log)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var states = await store.LoadAllAsync(cancellationToken);
        foreach (var state in states)
            sagas.Add(new SagaInstance<RolloutState>(state));
        log.LogInformation("Resumed {Count} rollouts from the store", states.Count);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

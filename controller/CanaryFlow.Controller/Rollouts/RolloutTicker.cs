using CanaryFlow.Controller.Seams;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// The engine's clock: works on any transport (no delayed-message plugin, no scheduler), driven by
/// <see cref="TimeProvider"/>, and reads only durable state, so it resumes correctly after a restart.
/// Run by the <see cref="Hosting.EngineSupervisor"/> while this replica leads.
/// </summary>
public sealed class RolloutTicker(
    IRolloutStore store,
    IBus bus,
    TimeProvider clock,
    IOptions<RolloutEngineOptions> options,
    ILogger<RolloutTicker> log)
{
    private readonly TickPolicy _policy = new(options.Value, clock.GetUtcNow());

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.TickPeriod, clock);
        do
        {
            try
            {
                await TickAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogWarning(e, "Rollout tick failed; trying again at the next tick");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task TickAsync(CancellationToken cancellationToken)
    {
        var states = await store.LoadAllAsync(cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var state in states)
            foreach (var message in _policy.Due(state, now))
                await bus.Publish(message, message.GetType(), cancellationToken);
        _policy.Retain(states.Select(s => s.CorrelationId).ToHashSet());
    }
}

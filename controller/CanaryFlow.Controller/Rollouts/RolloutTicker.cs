using CanaryFlow.Analysis.Batching;
using CanaryFlow.Controller.Bus;
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
    ILogger<RolloutTicker> log,
    Hosting.Sharding.IActingRollouts? acting = null,
    AsksTaken? taken = null,
    WorkloadInterest? interest = null)
{
    private readonly TickPolicy _policy = new(options.Value, clock.GetUtcNow(), taken);

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
        // Sharded replicas: only the rollouts of the partitions this replica consumes (the others' tickers do theirs).
        if (acting is not null) states = states.Where(acting.Acts).ToList();
        var now = clock.GetUtcNow();
        var due = new List<object>();
        lock (_policy) // tests also call TickAsync beside the running loop; the policy's memory is not thread-safe
        {
            foreach (var state in states)
            {
                _policy.AddDue(state, now, due);
                Forecast(state);
            }
            _policy.AddAdmissions(states, now, due);
            _policy.Retain(states);
        }
        // Published side by side: on RabbitMQ each publish waits for the broker's confirm, and one at a
        // time a thousand due checks would take seconds, stretching every step.
        foreach (var chunk in due.Chunk(128))
            await Task.WhenAll(chunk.Select(m => PublishAsync(m, cancellationToken)));
    }

    /// <summary>Tells the analysis when the rollout's next check is due, so the query of that grid point names its
    /// workloads and the other grid points' queries do not (<see cref="WorkloadInterest.Expect"/>). Before the checks are
    /// published: a check's query is sent once its first check arrives.</summary>
    private void Forecast(RolloutState state)
    {
        if (interest is not null && TickPolicy.WaitsOnAnalysis(state) && state.NextAnalysisAt is { } at)
            interest.Expect(state.Target, at);
    }

    private async Task PublishAsync(object message, CancellationToken cancellationToken)
    {
        try
        {
            await bus.PublishWithin(message, clock, cancellationToken);
        }
        catch
        {
            taken?.MaybeNotSent(message);
            throw;
        }
    }
}

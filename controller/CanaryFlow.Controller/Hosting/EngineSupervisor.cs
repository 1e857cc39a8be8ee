using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Rollouts;
using MassTransit;

namespace CanaryFlow.Controller.Hosting;

/// <summary>
/// Runs the engine only while this replica leads: waits for the lease, loads every stored rollout,
/// starts the bus, then runs the ticker. When leadership is lost it stops consuming at once and stops
/// the process (as controller-runtime does), so two replicas never act at the same time; the pod is
/// restarted as a standby. Without Kubernetes there is one replica and it always leads.
/// </summary>
public sealed class EngineSupervisor(
    ILeadership leadership,
    RolloutRehydrator rehydrator,
    IBusControl bus,
    RolloutTicker ticker,
    IHostApplicationLifetime lifetime,
    ILogger<EngineSupervisor> log) : BackgroundService
{
    private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once this replica leads and the bus consumes (fails if starting failed).</summary>
    public Task Running => _running.Task;

    /// <summary>A replica that leads from the start (always, without Kubernetes) starts the engine before the
    /// host reports started, so nothing published right after start-up meets a bus that is not consuming yet.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (leadership.IsLeader) await StartEngineAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_running.Task.IsCompleted)
        {
            await leadership.WaitForLeadershipAsync(stoppingToken);
            await StartEngineAsync(stoppingToken);
        }

        using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, leadership.LeadershipToken);
        try
        {
            await ticker.RunAsync(leading.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            log.LogCritical("Leadership lost: stopping the bus and the process so that no two replicas act");
            await StopBusAsync();
            lifetime.StopApplication();
        }
    }

    private async Task StartEngineAsync(CancellationToken cancellationToken)
    {
        try
        {
            await rehydrator.LoadAsync(cancellationToken);
            await bus.StartAsync(cancellationToken);
            _running.TrySetResult();
        }
        catch (Exception e)
        {
            _running.TrySetException(e);
            throw;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await StopBusAsync();
    }

    private async Task StopBusAsync()
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await bus.StopAsync(grace.Token); }
        catch (OperationCanceledException) { log.LogWarning("The bus did not stop within 10 s"); }
    }
}

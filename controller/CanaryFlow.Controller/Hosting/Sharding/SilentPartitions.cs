using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// The partitions this replica gave up because their queue gave it nothing for <see cref="ShardingOptions.ConsumerSilentAfter"/>,
/// and the liveness check (<c>/healthz</c>) that reports them. Such a replica's broker connection is broken in a way the
/// client does not mend: in kill run t2 the sends to one partition's exchange waited for a confirm forever after a
/// broker node was lost (rabbitmq-dotnet-client#1930), while the rest of the bus worked, and the replica took the
/// partition back when its Lease expired, only to fail again. Kubernetes restarts a pod that fails its liveness probe;
/// a new process has new connections, and its partitions move meanwhile (every rollout resumes from its stored state).
/// </summary>
public sealed class SilentPartitions : IHealthCheck
{
    private readonly ConcurrentDictionary<int, (DateTimeOffset At, TimeSpan Silent)> _given = new();

    public void GaveUp(int partition, DateTimeOffset at, TimeSpan silent) => _given[partition] = (at, silent);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_given.IsEmpty
            ? HealthCheckResult.Healthy("every partition held is served")
            : HealthCheckResult.Unhealthy("partitions given up because their queue gave this replica nothing: " + string.Join("; ",
                _given.OrderBy(g => g.Key).Select(g => $"{g.Key} at {g.Value.At:HH:mm:ss} after {g.Value.Silent.TotalSeconds:0} s")) +
                "; a new process gets new broker connections"));
}

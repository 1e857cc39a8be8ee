using Prometheus;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>
/// The watch events a replica received, by kind, and how many of them it had no use for (another replica's partition, or
/// a Deployment that is no target): what sharding costs each replica beyond its own work (issue 15). Served on /metrics
/// as <c>canaryflow_watch_events_total</c>; each watcher also keeps its own count, which the tests and benchmarks read.
/// </summary>
public sealed class WatchTally
{
    private static readonly Counter Events = Metrics.CreateCounter("canaryflow_watch_events_total",
        "Watch events received (not list items), by kind, and whether this replica kept them (its partitions' objects) or dropped them.",
        "kind", "use");

    private long _canaries, _canariesDropped, _deployments, _deploymentsDropped;

    public long Canaries => Interlocked.Read(ref _canaries);

    /// <summary>Canary events received and dropped: another replica's Canary (one not labelled yet, or leaving the watch).</summary>
    public long CanariesDropped => Interlocked.Read(ref _canariesDropped);

    public long Deployments => Interlocked.Read(ref _deployments);

    /// <summary>Deployment events received and dropped: another replica's target, a stable copy, or no target at all.</summary>
    public long DeploymentsDropped => Interlocked.Read(ref _deploymentsDropped);

    public void Canary(bool kept)
    {
        Interlocked.Increment(ref _canaries);
        if (!kept) Interlocked.Increment(ref _canariesDropped);
        Events.WithLabels("canary", kept ? "kept" : "dropped").Inc();
    }

    public void Deployment(bool kept)
    {
        Interlocked.Increment(ref _deployments);
        if (!kept) Interlocked.Increment(ref _deploymentsDropped);
        Events.WithLabels("deployment", kept ? "kept" : "dropped").Inc();
    }
}

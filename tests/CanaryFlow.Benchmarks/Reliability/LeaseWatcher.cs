using System.Diagnostics;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>Follows one coordination.k8s.io Lease on the sandbox API: who holds it and since when (harness clock).</summary>
public sealed class LeaseWatcher
{
    private readonly Lock _gate = new();
    private string? _holder;
    private TimeSpan _changedAt;
    private int _duration;
    private TimeSpan _renewedAt;

    public LeaseWatcher(ObjectStore store, string ns, string name, Stopwatch clock) =>
        store.Committed += e =>
        {
            if (e.Kind != ResourceKinds.Leases || e.Namespace != ns || (string?)e.Object["metadata"]?["name"] != name) return;
            var holder = (string?)e.Object["spec"]?["holderIdentity"];
            lock (_gate)
            {
                _duration = (int?)e.Object["spec"]?["leaseDurationSeconds"] ?? _duration;
                if (holder == _holder) _renewedAt = clock.Elapsed;
                if (string.IsNullOrEmpty(holder) || holder == _holder) return;
                _holder = holder;
                _changedAt = clock.Elapsed;
            }
        };

    public string? Holder { get { lock (_gate) return _holder; } }
    public TimeSpan HolderChangedAt { get { lock (_gate) return _changedAt; } }
    /// <summary>When the current holder last wrote the Lease (a renewal), on the harness's clock.</summary>
    public TimeSpan LastRenewalAt { get { lock (_gate) return _renewedAt; } }
    public int DurationSeconds { get { lock (_gate) return _duration; } }
}

using System.Diagnostics;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Scale;

/// <summary>
/// Follows the partition Leases (<c>{prefix}-p{n}</c>) on the sandbox API from its commit feed: who holds each and since
/// when, and every change of holder that came while the previous holder could still be acting (its last renewal less
/// than the renew deadline before): a double writer. A hand-over (holder emptied first) or a takeover after the old
/// holder's renew deadline is not one.
/// </summary>
public sealed class PartitionLeaseWatcher
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (string Holder, TimeSpan RenewedAt, TimeSpan HeldSince)> _state = [];
    private readonly List<(TimeSpan At, int Partition, string From, string To)> _overlaps = [];
    private readonly List<(TimeSpan At, int Partition, string Holder)> _takes = [];

    public PartitionLeaseWatcher(ObjectStore store, string ns, string prefix, TimeSpan renewDeadline, Stopwatch clock) =>
        store.Committed += e =>
        {
            if (e.Kind != ResourceKinds.Leases || e.Namespace != ns) return;
            var name = (string?)e.Object["metadata"]?["name"] ?? "";
            if (!name.StartsWith(prefix + "-p", StringComparison.Ordinal) || !int.TryParse(name[(prefix.Length + 2)..], out var p)) return;
            var holder = (string?)e.Object["spec"]?["holderIdentity"] ?? "";
            var now = clock.Elapsed;
            lock (_gate)
            {
                var before = _state.TryGetValue(p, out var known) ? known : (Holder: "", RenewedAt: TimeSpan.Zero, HeldSince: TimeSpan.Zero);
                if (holder == before.Holder) { _state[p] = (holder, now, before.HeldSince); return; }
                if (before.Holder.Length > 0 && holder.Length > 0 && now - before.RenewedAt < renewDeadline)
                    _overlaps.Add((now, p, before.Holder, holder));
                if (holder.Length > 0) _takes.Add((now, p, holder));
                _state[p] = (holder, now, now);
            }
        };

    public IReadOnlyList<int> HeldBy(string holder) { lock (_gate) return _state.Where(s => s.Value.Holder == holder).Select(s => s.Key).Order().ToList(); }

    public IReadOnlyDictionary<string, int> Counts()
    {
        lock (_gate) return _state.Values.Where(s => s.Holder.Length > 0).GroupBy(s => s.Holder).ToDictionary(g => g.Key, g => g.Count());
    }

    public int Overlaps { get { lock (_gate) return _overlaps.Count; } }

    /// <summary>When a partition was first taken by a holder other than <paramref name="from"/> after <paramref name="after"/>.</summary>
    public TimeSpan? TakenAfter(int partition, string from, TimeSpan after)
    {
        lock (_gate) return _takes.Where(t => t.Partition == partition && t.At >= after && t.Holder != from).Select(t => (TimeSpan?)t.At).FirstOrDefault();
    }
}

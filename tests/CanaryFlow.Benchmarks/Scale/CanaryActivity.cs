using System.Diagnostics;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Scale;

/// <summary>
/// The saga's transitions seen from outside (a Canary's status changing phase or applied weight), counted, and
/// stamped per rollout partition so that the harness can tell when a partition acted again after its owner died.
/// </summary>
public sealed class CanaryActivity
{
    private readonly Dictionary<string, (string?, int?)> _last = [];
    private readonly Dictionary<int, List<TimeSpan>> _byPartition = [];
    private long _transitions;

    public CanaryActivity(ObjectStore store, int partitions, Stopwatch clock) =>
        store.Committed += e =>
        {
            if (e.Kind != ResourceKinds.Canaries) return;
            var name = (string?)e.Object["metadata"]?["name"] ?? "";
            var target = (string?)e.Object["spec"]?["targetRef"]?["name"] ?? name;
            var now = ((string?)e.Object["status"]?["phase"], (int?)e.Object["status"]?["canaryWeight"]);
            lock (_last)
            {
                if (_last.TryGetValue(name, out var before) && before == now) return;
                _last[name] = now;
                if (now.Item1 is null) return;
                _transitions++;
                var p = RolloutPartitions.OfTarget(new RolloutTarget(e.Namespace, target), partitions);
                if (!_byPartition.TryGetValue(p, out var list)) _byPartition[p] = list = [];
                list.Add(clock.Elapsed);
            }
        };

    public long Transitions { get { lock (_last) return _transitions; } }

    /// <summary>The first transition of a rollout of <paramref name="partition"/> at or after <paramref name="after"/>.</summary>
    public TimeSpan? FirstAfter(int partition, TimeSpan after)
    {
        lock (_last) return _byPartition.GetValueOrDefault(partition)?.Where(t => t >= after).Select(t => (TimeSpan?)t).FirstOrDefault();
    }
}

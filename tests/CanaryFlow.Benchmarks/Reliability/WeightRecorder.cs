using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>One change of a service's canary weight as the API server committed it.</summary>
public sealed record WeightChange(TimeSpan At, int CanaryWeight);

/// <summary>
/// The VirtualService watcher of the harness: listens to every commit of the sandbox API server (in
/// process, so no change is missed between two polls) and keeps, per service, the sequence of canary
/// weights it saw, with the time of each change.
/// </summary>
public sealed class WeightRecorder
{
    private readonly ConcurrentDictionary<string, List<WeightChange>> _changes = new();
    private readonly ConcurrentDictionary<string, int> _current = new();
    private readonly Stopwatch _clock;

    public WeightRecorder(ObjectStore store, Stopwatch clock)
    {
        _clock = clock;
        store.Committed += OnCommitted;
    }

    /// <summary>Commits of VirtualServices (any change, weights or not): the write cost of routing.</summary>
    public long VirtualServiceWrites;

    public int CurrentWeight(string service) => _current.GetValueOrDefault(service);

    public IReadOnlyList<WeightChange> History(string service)
    {
        if (!_changes.TryGetValue(service, out var list)) return [];
        lock (list) return [.. list];
    }

    private void OnCommitted(StoredEvent e)
    {
        if (e.Kind != ResourceKinds.VirtualServices) return;
        Interlocked.Increment(ref VirtualServiceWrites);
        foreach (var (service, weight) in CanaryWeights(e.Object))
        {
            var list = _changes.GetOrAdd(service, _ => []);
            lock (list)
            {
                if (list.Count > 0 && list[^1].CanaryWeight == weight) continue;
                list.Add(new WeightChange(_clock.Elapsed, weight));
                _current[service] = weight;
            }
        }
    }

    /// <summary>The canary weight of every service the VirtualService routes to (0 without a canary route).</summary>
    public static IEnumerable<(string Service, int Weight)> CanaryWeights(JsonObject vs)
    {
        var seen = new Dictionary<string, int>();
        foreach (var http in vs["spec"]?["http"]?.AsArray() ?? [])
            foreach (var route in http?["route"]?.AsArray() ?? [])
            {
                var host = (string?)route?["destination"]?["host"];
                if (host is null) continue;
                host = host.Split('.')[0];
                if (!seen.ContainsKey(host)) seen[host] = 0;
                if ((string?)route!["destination"]?["subset"] == "canary") seen[host] = (int?)route["weight"] ?? 0;
            }
        return seen.Select(p => (p.Key, p.Value));
    }

    /// <summary>Traffic sent to the canary, back to none, then to the canary again: one release, two rollouts.</summary>
    public static bool RolledOutMoreThanOnce(IReadOnlyList<int> weights) =>
        weights.Where((w, i) => w > 0 && (i == 0 || weights[i - 1] == 0)).Count() > 1;

    /// <summary>
    /// Checks one service's weight sequence against its plan: after the initial 0, the weights must be the
    /// plan's steps in order, each once, none skipped and none above the plan, then back to 0 (promotion or
    /// rollback). Returns null when it holds, else what broke.
    /// </summary>
    public static string? Violation(IReadOnlyList<int> sequence, IReadOnlyList<int> steps, bool mustReachLast)
    {
        var body = sequence.SkipWhile(w => w == 0).ToList();
        if (body.Count > 0 && body[^1] == 0) body.RemoveAt(body.Count - 1);
        if (body.Any(w => w > steps[^1])) return $"weight {body.Max()} above plan max {steps[^1]}";
        for (var i = 0; i < body.Count; i++)
        {
            if (i >= steps.Count) return $"more changes than steps: {string.Join(",", body)}";
            if (body[i] != steps[i])
                return body.Take(i).Contains(body[i]) ? $"step {body[i]} applied twice: {string.Join(",", body)}" : $"step {steps[i]} skipped: {string.Join(",", body)}";
        }
        if (mustReachLast && body.Count != steps.Count) return $"promoted before the last step: {string.Join(",", body)}";
        return null;
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Benchmarks.Engine;

/// <summary>The engine's store with a clock on each save: a save that waits (for the journal's lock, or a compaction)
/// holds its saga delivery, and the deliveries queued behind it.</summary>
public sealed class TimedStore(IRolloutStore inner) : IRolloutStore, IDisposable
{
    private ConcurrentBag<double> _savesMs = [];

    /// <summary>Off until a steady run's window opens: a batch run's figure of heap kept per rollout must not hold samples.</summary>
    public volatile bool Recording;

    public Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false) => inner.LoadAllAsync(cancellationToken, fresh);

    public Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken) => inner.LoadAsync(correlationId, cancellationToken);

    public async Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await inner.SaveAsync(state, expectedVersion, cancellationToken);
        if (Recording) _savesMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public string Summary()
    {
        var sorted = _savesMs.Order().ToArray();
        if (sorted.Length == 0) return "saves: none";
        return $"saves: {sorted.Length}, p50 / p99 / p99.9 / max {EngineLoad.Percentile(sorted, 0.5):F2} / {EngineLoad.Percentile(sorted, 0.99):F2} / " +
               $"{EngineLoad.Percentile(sorted, 0.999):F2} / {sorted[^1]:F1} ms, over 5 ms: {sorted.Count(s => s > 5)}";
    }

    public void Dispose() => (inner as IDisposable)?.Dispose();
}

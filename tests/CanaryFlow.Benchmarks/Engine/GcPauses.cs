namespace CanaryFlow.Benchmarks.Engine;

/// <summary>
/// Each garbage collection's pause, by the generation it collected: a check that waits behind a pause carries it into
/// the p99, and the total alone (<see cref="EngineProbe.PausedSinceStart"/>) does not say whether that is a few long
/// blocking gen2 pauses or many short ephemeral ones. Read by polling the runtime's last-collection record, so two
/// collections within one poll count as one: the output says how much of the time paused the collections seen account for.
/// </summary>
public sealed class GcPauses
{
    private readonly List<(int Generation, double Ms)> _seen = [];
    private long _lastIndex = -1; // none polled yet

    /// <summary>Records the last collection if it is new; call often (every few milliseconds) while measuring.</summary>
    public void Poll()
    {
        var last = GC.GetGCMemoryInfo(GCKind.Any);
        if (_lastIndex < 0)
        {
            _lastIndex = last.Index; // one that ran before the window is not counted
            return;
        }
        if (last.Index == _lastIndex) return;
        _lastIndex = last.Index;
        var pause = last.PauseDurations;
        _seen.Add((last.Generation, pause[0].TotalMilliseconds + pause[1].TotalMilliseconds));
    }

    /// <summary>Per generation: collections seen, pause p50 / p90 / max and their sum, against <paramref name="paused"/>, the
    /// window's whole pause time (<see cref="GC.GetTotalPauseDuration"/> across it).</summary>
    public string Summary(TimeSpan paused)
    {
        var parts = _seen.GroupBy(s => s.Generation).OrderBy(g => g.Key).Select(g =>
        {
            var ms = g.Select(s => s.Ms).Order().ToArray();
            return $"gen{g.Key} {ms.Length} × p50 {EngineLoad.Percentile(ms, 0.5):F1} / p90 {EngineLoad.Percentile(ms, 0.9):F1} / max {ms[^1]:F1} ms (sum {ms.Sum():F0})";
        });
        return $"GC pauses seen: {string.Join("; ", parts)}; {_seen.Sum(s => s.Ms):F0} of the {paused.TotalMilliseconds:F0} ms paused in the window";
    }
}

using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// Turns the saga's transition snapshots and analysis verdicts into metrics. Keeps, per target, its last phase (to count
/// rollouts by phase), when its weight last changed (for step durations), its weight and its checks by result; the last
/// two are written at each scrape (<see cref="WriteAsync"/>) rather than kept as prometheus-net children, which cost
/// ~0.5 KB a series (issue 15). A target is forgotten, series and all, when its Canary is deleted (<see cref="Forget"/>).
/// </summary>
public sealed class RolloutMetricsRecorder : IScrapeTimeSeries
{
    private static readonly string[] Results = ["passed", "failed", "nodata", "queryerror"]; // VerdictKind, in order
    private static readonly string[] KnownPhases =
    [
        RolloutPhases.Queued, RolloutPhases.Initializing, RolloutPhases.Progressing, RolloutPhases.Paused, RolloutPhases.WaitingApproval, RolloutPhases.Promoting,
        RolloutPhases.Succeeded, RolloutPhases.RollingBack, RolloutPhases.Failed, RolloutPhases.Holding,
    ];

    private readonly CanaryFlowMetrics metrics;
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Tracked> _byTarget = [];
    // Rollouts per phase label, kept as phases change: counting them again from _byTarget at each change cost a pass
    // over every target and a grouping of them (at 10,000 targets, arrays of the large object heap at every change).
    private readonly Dictionary<string, int> _inPhase = [];
    // Checks of a target not seen yet (a verdict that overtook the rollout's first transition), as before: "unknown".
    private readonly Tracked _unknown = new("unknown", "unknown");

    public RolloutMetricsRecorder(CanaryFlowMetrics metrics)
    {
        this.metrics = metrics;
        metrics.AddScrapeTimeSeries(this);
    }

    /// <summary>What is kept per target: ~100 bytes, plus its name and the table's entry (the namespace is shared).</summary>
    private sealed class Tracked(string ns, string name)
    {
        public readonly string Namespace = ns, Name = name;
        public Guid RolloutId;
        public string Phase = "";
        public long Version = -1;
        public long StartedAt, WeightSince; // UTC ticks
        public int Weight;
        public Counts Checks; // by VerdictKind, since this controller started
    }

    [System.Runtime.CompilerServices.InlineArray(4)]
    private struct Counts { private int _first; }

    public void Record(RolloutTransitioned t)
    {
        lock (_gate)
        {
            if (!_byTarget.TryGetValue(t.CorrelationId, out var r))
            {
                var target = SharedParts.Target(t.Target);
                _byTarget[t.CorrelationId] = r = new Tracked(CanaryFlowMetrics.Label(target.Namespace), CanaryFlowMetrics.Label(target.Name))
                {
                    RolloutId = t.RolloutId, StartedAt = t.At.UtcTicks, WeightSince = t.At.UtcTicks,
                };
            }
            if (r.RolloutId == t.RolloutId && t.Version <= r.Version) return; // redelivered or out of order
            if (r.RolloutId != t.RolloutId)
            {
                r.RolloutId = t.RolloutId;
                r.StartedAt = t.At.UtcTicks;
                r.WeightSince = t.At.UtcTicks;
                r.Weight = 0;
            }
            r.Version = t.Version;

            if (t.CanaryWeight != r.Weight)
            {
                if (r.Weight > 0) metrics.StepDuration.WithLabels(r.Namespace).Observe(Seconds(t.At.UtcTicks - r.WeightSince));
                r.Weight = t.CanaryWeight;
                r.WeightSince = t.At.UtcTicks;
            }

            if (t.Phase != r.Phase)
            {
                var phase = Known(t.Phase);
                metrics.Transitions.WithLabels(phase).Inc();
                if (phase is RolloutPhases.Succeeded or RolloutPhases.Failed)
                    metrics.RolloutDuration.WithLabels(r.Namespace, phase == RolloutPhases.Succeeded ? "succeeded" : "failed").Observe(Seconds(t.At.UtcTicks - r.StartedAt));
                Move(r.Phase, phase);
                r.Phase = phase;
            }
        }
    }

    public void RecordCheck(Guid correlationId, VerdictKind verdict)
    {
        lock (_gate)
        {
            var r = _byTarget.GetValueOrDefault(correlationId) ?? _unknown;
            r.Checks[(int)verdict]++;
        }
    }

    /// <summary>The target's Canary is gone: its series leave <c>/metrics</c> and it is no longer counted by phase. A
    /// target never seen, or forgotten already, changes nothing.</summary>
    public void Forget(Guid correlationId)
    {
        lock (_gate)
        {
            if (!_byTarget.Remove(correlationId, out var r)) return;
            if (r.Phase.Length > 0) Count(r.Phase, -1);
            // Gives back the room of many deleted Canaries; only when three quarters are unused, so that deleting them one
            // by one copies the table a few times, not once a deletion.
            if (_byTarget.Count < _byTarget.EnsureCapacity(0) / 4) _byTarget.TrimExcess();
        }
    }

    /// <summary>The weight of every target and its checks by result (only the results it has seen, as a prometheus-net
    /// child appears at its first use). The targets are read under the lock, written without it.</summary>
    public async ValueTask WriteAsync(MetricsText text, CancellationToken ct)
    {
        Tracked[] all;
        int count;
        lock (_gate)
        {
            count = _byTarget.Count;
            all = System.Buffers.ArrayPool<Tracked>.Shared.Rent(count + 1);
            _byTarget.Values.CopyTo(all, 0);
            all[count++] = _unknown;
        }
        try
        {
            text.Family(CanaryFlowMetrics.CanaryWeightName, CanaryFlowMetrics.CanaryWeightHelp, "gauge");
            for (var i = 0; i < count - 1; i++) // the unknown target has no weight
            {
                text.Sample(CanaryFlowMetrics.CanaryWeightName, all[i].Namespace, all[i].Name, null, null, Volatile.Read(ref all[i].Weight));
                await text.PaceAsync(ct);
            }
            text.Family(CanaryFlowMetrics.AnalysisChecksName, CanaryFlowMetrics.AnalysisChecksHelp, "counter");
            for (var i = 0; i < count; i++)
            {
                for (var k = 0; k < Results.Length; k++)
                    if (Volatile.Read(ref all[i].Checks[k]) is var n and > 0)
                        text.Sample(CanaryFlowMetrics.AnalysisChecksName, all[i].Namespace, all[i].Name, "result", Results[k], n);
                await text.PaceAsync(ct);
            }
        }
        finally { System.Buffers.ArrayPool<Tracked>.Shared.Return(all, clearArray: true); }
    }

    // The message's phase is a string of its own (deserialised): the constant is kept instead, not one copy per target.
    private static string Known(string phase)
    {
        foreach (var known in KnownPhases)
            if (known == phase) return known;
        return CanaryFlowMetrics.Label(phase);
    }

    private void Move(string from, string to)
    {
        if (from.Length > 0) Count(from, -1); // "" is a target seen for the first time
        Count(to, +1);
    }

    private void Count(string phase, int by)
    {
        var n = _inPhase.GetValueOrDefault(phase) + by;
        _inPhase[phase] = n;
        metrics.RolloutsByPhase.WithLabels(phase).Set(n);
    }

    private static double Seconds(long ticks) => Math.Max(0, TimeSpan.FromTicks(ticks).TotalSeconds);
}

public enum VerdictKind { Passed, Failed, NoData, QueryError }

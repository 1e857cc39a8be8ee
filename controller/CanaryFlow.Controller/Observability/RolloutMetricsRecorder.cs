using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// Turns the saga's transition snapshots and analysis verdicts into metrics. Keeps the last phase of
/// each rollout (to count rollouts by phase) and when its weight last changed (for step durations).
/// </summary>
public sealed class RolloutMetricsRecorder(CanaryFlowMetrics metrics)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Tracked> _byTarget = [];
    // Rollouts per phase label, kept as phases change: counting them again from _byTarget at each change cost a pass
    // over every target and a grouping of them (at 10,000 targets, arrays of the large object heap at every change).
    private readonly Dictionary<string, int> _inPhase = [];

    private sealed class Tracked
    {
        public required RolloutTarget Target;
        public Guid RolloutId;
        public string Phase = "";
        public long Version = -1;
        public int Weight;
        public DateTimeOffset StartedAt;
        public DateTimeOffset WeightSince;
    }

    public void Record(RolloutTransitioned t)
    {
        lock (_gate)
        {
            if (!_byTarget.TryGetValue(t.CorrelationId, out var r))
                _byTarget[t.CorrelationId] = r = new Tracked { Target = t.Target, RolloutId = t.RolloutId, StartedAt = t.At, WeightSince = t.At };
            if (r.RolloutId == t.RolloutId && t.Version <= r.Version) return; // redelivered or out of order
            if (r.RolloutId != t.RolloutId)
            {
                r.RolloutId = t.RolloutId;
                r.StartedAt = t.At;
                r.WeightSince = t.At;
                r.Weight = 0;
            }
            r.Version = t.Version;

            var (ns, name) = (t.Target.Namespace, t.Target.Name);
            if (t.CanaryWeight != r.Weight)
            {
                if (r.Weight > 0) metrics.StepDuration.WithLabels(ns, name).Observe(Seconds(t.At - r.WeightSince));
                r.Weight = t.CanaryWeight;
                r.WeightSince = t.At;
            }
            metrics.CanaryWeight.WithLabels(ns, name).Set(t.CanaryWeight);

            if (t.Phase != r.Phase)
            {
                metrics.Transitions.WithLabels(CanaryFlowMetrics.Label(t.Phase)).Inc();
                if (t.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed)
                    metrics.RolloutDuration.WithLabels(ns, name, t.Phase.ToLowerInvariant()).Observe(Seconds(t.At - r.StartedAt));
                Move(r.Phase, t.Phase);
                r.Phase = t.Phase;
            }
        }
    }

    public void RecordCheck(Guid correlationId, VerdictKind verdict)
    {
        RolloutTarget? target;
        lock (_gate) target = _byTarget.TryGetValue(correlationId, out var r) ? r.Target : null;
        metrics.AnalysisChecks.WithLabels(target?.Namespace ?? "unknown", target?.Name ?? "unknown", verdict.ToString().ToLowerInvariant()).Inc();
    }

    private void Move(string from, string to)
    {
        if (from.Length > 0) Count(CanaryFlowMetrics.Label(from), -1); // "" is a target seen for the first time
        Count(CanaryFlowMetrics.Label(to), +1);
    }

    private void Count(string phase, int by)
    {
        var n = _inPhase.GetValueOrDefault(phase) + by;
        _inPhase[phase] = n;
        metrics.RolloutsByPhase.WithLabels(phase).Set(n);
    }

    private static double Seconds(TimeSpan span) => Math.Max(0, span.TotalSeconds);
}

public enum VerdictKind { Passed, Failed, NoData, QueryError }

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
                r.Phase = t.Phase;
                RecountPhases();
            }
        }
    }

    public void RecordCheck(Guid correlationId, VerdictKind verdict)
    {
        RolloutTarget? target;
        lock (_gate) target = _byTarget.TryGetValue(correlationId, out var r) ? r.Target : null;
        metrics.AnalysisChecks.WithLabels(target?.Namespace ?? "unknown", target?.Name ?? "unknown", verdict.ToString().ToLowerInvariant()).Inc();
    }

    private void RecountPhases()
    {
        foreach (var group in _byTarget.Values.GroupBy(r => r.Phase))
            metrics.RolloutsByPhase.WithLabels(CanaryFlowMetrics.Label(group.Key)).Set(group.Count());
        foreach (var phase in metrics.RolloutsByPhase.GetAllLabelValues().Select(l => l[0]).ToList())
            if (_byTarget.Values.All(r => CanaryFlowMetrics.Label(r.Phase) != phase))
                metrics.RolloutsByPhase.WithLabels(phase).Set(0);
    }

    private static double Seconds(TimeSpan span) => Math.Max(0, span.TotalSeconds);
}

public enum VerdictKind { Passed, Failed, NoData, QueryError }

using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

// Admission (Rollouts:MaxActive): which queued rollouts start now.
public sealed partial class TickPolicy
{
    private readonly List<RolloutState> _queued = [];

    /// <summary>
    /// With <see cref="RolloutEngineOptions.MaxActive"/> set, admits the longest-waiting queued rollouts, as many as there
    /// are free slots. Every rollout neither at rest nor queued holds a slot, and so does a queued one already admitted
    /// whose answer is not stored yet: two ticks never give one slot twice. An admission whose copy was taken and left
    /// the rollout queued (it cannot, short of a lost write) is asked again like a stalled command.
    /// Sharded, <paramref name="states"/> are the rollouts of the partitions this replica holds: each replica fills its own
    /// slots, and a replica that takes over partitions admits nothing more until it is back under its limit.
    /// </summary>
    public void AddAdmissions(IReadOnlyList<RolloutState> states, DateTimeOffset now, List<object> due)
    {
        if (options.MaxActive <= 0) return;
        var active = 0;
        _queued.Clear();
        foreach (var s in states)
        {
            if (AtRest(s)) continue;
            if (s.CurrentState != RolloutPhases.Queued) active++;
            else if (_said.TryGetValue((s.CorrelationId, Admission), out var said) && said.Key == s.Sequence)
            {
                active++;
                if (FirstOrOverdue(s.CorrelationId, Admission, s.Sequence, now, options.StallAfter, backOff: true, AskKind.Admission))
                    due.Add(new AdmitRollout(s.CorrelationId, s.Sequence, now));
            }
            else _queued.Add(s);
        }

        var free = Math.Min(options.MaxActive - active, _queued.Count);
        if (free > 0)
        {
            // First come, first served: a steady stream of new releases cannot starve one that has waited.
            _queued.Sort(static (a, b) => a.StartedAt != b.StartedAt ? a.StartedAt.CompareTo(b.StartedAt) : a.CorrelationId.CompareTo(b.CorrelationId));
            for (var i = 0; i < free; i++)
            {
                var s = _queued[i];
                FirstOrOverdue(s.CorrelationId, Admission, s.Sequence, now, options.StallAfter, backOff: true, AskKind.Admission);
                due.Add(new AdmitRollout(s.CorrelationId, s.Sequence, now));
            }
        }
        // Kept from tick to tick (10,000 queued is a list on the large object heap); given back once mostly unused.
        if (_queued.Capacity > 4 * Math.Max(64, _queued.Count)) _queued.TrimExcess();
        _queued.Clear();
    }

    private const string Admission = "admit";
}

using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// Decides, from durable rollout state and the clock alone, which timer facts are due: an analysis
/// check, a command that got no answer (lost in a crash or a broker restart), a missed progress
/// deadline. Remembers what it already said so it does not repeat itself every tick; that memory is
/// lost on restart on purpose, so a restarted controller re-says everything once (replies are
/// idempotent through sequence numbers).
/// </summary>
public sealed class TickPolicy(RolloutEngineOptions options, DateTimeOffset startedAt)
{
    private readonly Dictionary<(Guid, string), (long Key, DateTimeOffset At)> _said = [];

    public IEnumerable<object> Due(RolloutState s, DateTimeOffset now)
    {
        var id = s.CorrelationId;
        var waitingOnAnalysis = s.CurrentState is RolloutPhases.Progressing or RolloutPhases.Paused or RolloutPhases.WaitingApproval;
        if (waitingOnAnalysis && s.NextAnalysisAt is { } due && due <= now &&
            FirstOrOverdue(id, "analysis", s.AnalysisSequence, now, Max(s.Plan.AnalysisInterval, options.StallAfter)))
        {
            yield return new AnalysisDue(id, s.RolloutId, s.Target, s.Revision, s.AppliedWeight, s.AnalysisSequence, due,
                s.Plan.AnalysisInterval, s.Plan.Analysis);
        }

        if (s.Pending != null && s.PendingSince is { } since &&
            // A command sent before this process started may have been lost with it: re-send at once.
            (since + options.StallAfter <= now || since < startedAt) &&
            FirstOrOverdue(id, "stall", s.Sequence, now, options.StallAfter))
        {
            yield return new RolloutStalled(id, s.Sequence, now);
        }

        var deadlineApplies = s.CurrentState is RolloutPhases.Initializing or RolloutPhases.Progressing;
        if (deadlineApplies && s.LastProgressAt + s.Plan.ProgressDeadline <= now &&
            FirstOrOverdue(id, "deadline", s.LastProgressAt.UtcTicks, now, options.StallAfter))
        {
            yield return new ProgressDeadlineExceeded(id, now);
        }
    }

    /// <summary>Forget rollouts that no longer exist.</summary>
    public void Retain(IReadOnlySet<Guid> ids)
    {
        foreach (var key in _said.Keys.Where(k => !ids.Contains(k.Item1)).ToList()) _said.Remove(key);
    }

    private bool FirstOrOverdue(Guid id, string kind, long key, DateTimeOffset now, TimeSpan repeatAfter)
    {
        if (_said.TryGetValue((id, kind), out var said) && said.Key == key && said.At + repeatAfter > now)
            return false;
        _said[(id, kind)] = (key, now);
        return true;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

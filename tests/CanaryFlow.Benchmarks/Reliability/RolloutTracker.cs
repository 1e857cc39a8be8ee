namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// Releases each service of a group as soon as the controller has initialised its Canary (a release before
/// that would be taken for the baseline), then follows it to its final phase; prints the tally.
/// </summary>
public sealed class RolloutTracker(SimulatedCluster cluster, IReadOnlyList<BenchService> group)
{
    private readonly Dictionary<string, string> _released = [];
    private readonly Dictionary<string, string> _final = [];
    private readonly Dictionary<string, string?> _endMessage = [];

    public IReadOnlyList<BenchService> Group => group;
    public int Released => _released.Count;
    public int Ended => _final.Count;
    public bool AllEnded => _final.Count == group.Count;

    /// <summary>One look at the cluster: release what is ready, record what ended.</summary>
    public void Poll()
    {
        foreach (var s in group)
        {
            if (!_released.ContainsKey(s.Name) && cluster.StableRevision(s) is { } initial)
            {
                _released[s.Name] = initial;
                cluster.Release(s);
            }
            if (_released.TryGetValue(s.Name, out var r) && !_final.ContainsKey(s.Name) && cluster.FinalPhase(s, r) is { } phase)
            {
                _final[s.Name] = phase;
                _endMessage[s.Name] = cluster.PhaseAndMessage(s).Message; // read at its end: a later rollout would replace it
            }
        }
    }

    /// <summary>Polls until <paramref name="until"/> holds or the time limit passes (bounded).</summary>
    public async Task<bool> PollUntilAsync(Func<bool> until, TimeSpan limit)
    {
        var end = cluster.Clock.Elapsed + limit;
        while (cluster.Clock.Elapsed < end)
        {
            Poll();
            if (until()) return true;
            await Task.Delay(200);
        }
        return false;
    }

    /// <summary>Why the rollouts ended, grouped by outcome and reason (see <see cref="EndReasons"/>); the unfinished ones by
    /// the phase and message they are in now.</summary>
    public IReadOnlyList<string> EndReasonLines() =>
        EndReasons.Describe(group.Select(s => _final.TryGetValue(s.Name, out var final)
            ? (s, (string?)final, (string?)final, _endMessage.GetValueOrDefault(s.Name))
            : Now(s)));

    private (BenchService, string?, string?, string?) Now(BenchService s)
    {
        var (phase, message) = cluster.PhaseAndMessage(s);
        return (s, null, phase, message);
    }

    /// <summary>Prints one line per rollout; returns the number of rollouts that are wrong in state, image or weight sequence.</summary>
    /// <param name="onlyWrong">Print only the wrong ones (runs of a thousand rollouts).</param>
    public int PrintTally(bool onlyWrong = false)
    {
        Console.WriteLine($"  {"service",-16} {"faulty",-6} {"expected",-9} {"final",-10} {"stable image",-30} {"weights seen (VS watch)",-24} verdict");
        var wrong = 0;
        foreach (var s in group)
        {
            var phase = _final.GetValueOrDefault(s.Name, "unfinished");
            var weights = cluster.Weights.History(s.Name).Select(c => c.CanaryWeight).ToList();
            var violation = WeightRecorder.Violation(weights, s.Steps, mustReachLast: phase == "Succeeded");
            var stable = cluster.ImageOf(s.Namespace, $"{s.Name}-primary") ?? "-";
            var stateOk = phase == s.ExpectedPhase && (phase == "Succeeded" ? stable == s.NewImage : stable == s.StableImage);
            if (!stateOk || violation is not null) wrong++;
            else if (onlyWrong) continue;
            Console.WriteLine($"  {s.Name,-16} {(s.Faulty ? "yes" : "no"),-6} {s.ExpectedPhase,-9} {phase,-10} {stable,-30} {string.Join(",", weights),-24} " +
                              (stateOk && violation is null ? "ok" : $"WRONG {(stateOk ? "" : "final state/image ")}{violation}"));
        }
        return wrong;
    }
}

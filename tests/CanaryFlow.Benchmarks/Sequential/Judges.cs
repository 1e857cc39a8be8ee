using CanaryFlow.Analysis;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Analysis.Statistics;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;

namespace CanaryFlow.Benchmarks.Sequential;

public enum JudgeAction { None, Next, Rollback }

/// <summary>One way of deciding a rollout, fed once per simulated second.</summary>
/// <param name="History">Cumulative counters at the end of every second so far (index = second).</param>
public interface IJudge
{
    string Name { get; }
    JudgeAction Tick(int second, int stepStart, int weight, IReadOnlyList<CounterSnapshot> history, bool metricsDown);
}

/// <summary>
/// A check per interval over the last interval's window, with limits on failed, inconclusive and
/// errored checks, like CanaryFlow's saga (failures count for the whole rollout; no-data and errors
/// count consecutively).
/// </summary>
public abstract class WindowJudge(int intervalSeconds, int failureLimit, int inconclusiveLimit, int errorLimit) : IJudge
{
    private int _failed, _noData, _errors, _lastCheck;

    public abstract string Name { get; }

    protected static readonly MetricSpec SuccessRate = new(IstioQueries.SuccessRate, Min: 99);
    protected static readonly MetricSpec Duration = new(IstioQueries.Duration, Max: 500);
    protected const int MinRequests = 50;

    public JudgeAction Tick(int second, int stepStart, int weight, IReadOnlyList<CounterSnapshot> history, bool metricsDown)
    {
        if (second - _lastCheck < intervalSeconds) return JudgeAction.None;
        _lastCheck = second;
        var outcome = metricsDown ? VerdictOutcome.QueryError : Check(second, history, intervalSeconds);
        _noData = outcome == VerdictOutcome.NoData ? _noData + 1 : 0;
        _errors = outcome == VerdictOutcome.QueryError ? _errors + 1 : 0;
        if (outcome == VerdictOutcome.Failed) _failed++;
        if (_failed >= failureLimit) return JudgeAction.Rollback;
        if ((inconclusiveLimit > 0 && _noData >= inconclusiveLimit) || (errorLimit > 0 && _errors >= errorLimit)) return JudgeAction.Rollback;
        return outcome == VerdictOutcome.Passed ? JudgeAction.Next : JudgeAction.None;
    }

    protected abstract VerdictOutcome Check(int second, IReadOnlyList<CounterSnapshot> history, int interval);

    /// <summary>Today's thresholds through the real MetricCheck and VerdictRules.</summary>
    protected static VerdictOutcome Thresholds(WindowMetrics canary) =>
        VerdictRules.Combine("bench", [
            MetricCheck.Judge(SuccessRate, canary.SuccessRate, "percent"),
            MetricCheck.Judge(Duration, canary.P99, "P99 ms"),
        ], null, []).Outcome;
}

/// <summary>CanaryFlow today (README example): success rate ≥ 99%, P99 ≤ 500 ms, failureLimit 2, inconclusiveLimit 5, errorLimit 3, minRequests 50.</summary>
public sealed class FixedWindowJudge(int interval) : WindowJudge(interval, 2, 5, 3)
{
    public override string Name => "fixed-window";

    protected override VerdictOutcome Check(int second, IReadOnlyList<CounterSnapshot> history, int interval)
    {
        var canary = WindowMetrics.Of(history[second - interval], history[second], canary: true);
        return canary.Requests < MinRequests ? VerdictOutcome.NoData : Thresholds(canary);
    }
}

/// <summary>
/// Flagger's defaults: the same two metrics, 1 min interval, threshold 5 failed checks in total; a
/// metric with no value (no traffic) or a query error is a failed check.
/// </summary>
public sealed class FlaggerJudge(int interval) : WindowJudge(interval, 5, 0, 0)
{
    public override string Name => "flagger";

    protected override VerdictOutcome Check(int second, IReadOnlyList<CounterSnapshot> history, int interval)
    {
        var outcome = Thresholds(WindowMetrics.Of(history[second - interval], history[second], canary: true));
        return outcome == VerdictOutcome.Passed ? outcome : VerdictOutcome.Failed;
    }
}

/// <summary>
/// Kayenta-style: per interval, samples every 15 s of each metric over a 1 min rate window (the
/// runner's ComparisonStep and ComparisonRateWindow), canary against stable through the real
/// KayentaJudge (Mann-Whitney at 95%, 10% allowed change); limits as CanaryFlow's.
/// </summary>
public sealed class KayentaStyleJudge(int interval) : WindowJudge(interval, 2, 5, 3)
{
    private const int Step = 15, RateWindow = 60;

    public override string Name => "kayenta-mw";

    protected override VerdictOutcome Check(int second, IReadOnlyList<CounterSnapshot> history, int interval)
    {
        if (WindowMetrics.Of(history[second - interval], history[second], canary: true).Requests < MinRequests) return VerdictOutcome.NoData;
        var samples = Enumerable.Range(0, interval / Step + 1).Select(i => second - interval + i * Step)
            .Where(s => s >= RateWindow)
            .Select(s => (Canary: WindowMetrics.Of(history[s - RateWindow], history[s], true), Stable: WindowMetrics.Of(history[s - RateWindow], history[s], false)))
            .ToArray();
        var spec = new ComparisonSpec();
        var score = KayentaJudge.Score([
            KayentaJudge.Classify("success", Values(samples.Select(p => p.Canary.SuccessRate)), Values(samples.Select(p => p.Stable.SuccessRate)), spec.Confidence, spec.AllowedRelativeChange, HarmfulDirection.Decrease),
            KayentaJudge.Classify("p99", Values(samples.Select(p => p.Canary.P99)), Values(samples.Select(p => p.Stable.P99)), spec.Confidence, spec.AllowedRelativeChange, HarmfulDirection.Increase),
        ], spec);
        return score.Outcome switch
        {
            ScoreOutcome.Pass => VerdictOutcome.Passed,
            ScoreOutcome.Fail => VerdictOutcome.Failed,
            _ => VerdictOutcome.NoData,
        };
    }

    private static double[] Values(IEnumerable<double?> values) => values.OfType<double>().ToArray();
}

/// <summary>
/// The sequential judge: counters read into the real <see cref="SequentialEvidence"/> at the times the controller
/// checks (<see cref="SequentialSchedule"/>: with a first look the baseline at the next point of the first-look grid,
/// every step's early look, then the tick grid; without, every tick from one tick after the weight change, the first
/// read spent on the baseline); reject at once, pass after the interval with the minimum evidence; a metrics outage
/// holds (no decision) and rolls back only after the outage deadline. With <see cref="SequentialSettings.HoldAt"/> a step
/// whose interval is over is held while a test's e-value is at least that, for at most <paramref name="maxHold"/> seconds
/// (null: one interval), as the controller's runner does.
/// </summary>
/// <param name="gridPhase">Where the rollout starts on the controller's grids (second 0 of the simulation is second
/// gridPhase of the grids): a rollout starts whenever someone deploys, not on a grid point.</param>
public sealed class SequentialJudge(int interval, int tick, int? firstLook, int outageDeadline, SequentialSettings settings, int gridPhase = 0, int? maxHold = null) : IJudge
{
    private SequentialEvidence _evidence = SequentialEvidence.Start(settings);
    private int? _downSince;
    private bool _baselineRead;
    private int _stepStart = -1, _next;

    public string Name => "sequential";

    /// <summary>Checks made so far (the bus messages and namespace query rounds this judge would cost).</summary>
    public int Checks { get; private set; }

    private TimeSpan TickSpan => TimeSpan.FromSeconds(tick);
    private TimeSpan? Look => firstLook is { } f ? TimeSpan.FromSeconds(f) : null;

    public JudgeAction Tick(int second, int stepStart, int weight, IReadOnlyList<CounterSnapshot> history, bool metricsDown)
    {
        if (stepStart != _stepStart)
        {
            // The weight was applied at stepStart (the simulation applies it at once).
            _stepStart = stepStart;
            _next = Second(SequentialSchedule.First(At(stepStart), TickSpan, Look, _baselineRead));
            // A first check due at the step's start reads the counters as they were then.
            if (_next == stepStart) Check(stepStart, stepStart, weight, history, metricsDown);
        }
        return second == _next ? Check(second, stepStart, weight, history, metricsDown) : JudgeAction.None;
    }

    private JudgeAction Check(int second, int stepStart, int weight, IReadOnlyList<CounterSnapshot> history, bool metricsDown)
    {
        Checks++;
        _next = Second(SequentialSchedule.Next(At(second), At(second), At(stepStart), TickSpan, Look));
        if (metricsDown)
        {
            _downSince ??= second;
            return second - _downSince >= outageDeadline ? JudgeAction.Rollback : JudgeAction.None;
        }
        _downSince = null;
        _evidence = _evidence.Observe(history[second], settings);
        _baselineRead = true;
        var age = second - stepStart;
        switch (_evidence.Decide(settings, age >= interval, stableServes: weight < 100, holdOver: age >= interval + (maxHold ?? interval)).Outcome)
        {
            case SequentialOutcome.Reject: return JudgeAction.Rollback;
            case SequentialOutcome.Pass: _evidence = _evidence.StartStep(); return JudgeAction.Next;
            default: return JudgeAction.None;
        }
    }

    private DateTimeOffset At(int second) => DateTimeOffset.UnixEpoch.AddSeconds(second + gridPhase);

    private int Second(DateTimeOffset at) => (int)Math.Ceiling((at - DateTimeOffset.UnixEpoch).TotalSeconds) - gridPhase;
}

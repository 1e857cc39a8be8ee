using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Analysis.Verdicts;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis;

/// <param name="Outcome">Failed (a test rejected: <paramref name="Decisive"/>, or a threshold failed at the step's end),
/// Passed, QueryError (Prometheus did not answer: hold), or NoData (accumulating: no decision yet).</param>
/// <param name="State">The running evidence to keep with the rollout (unchanged when the counters could not be read).</param>
public sealed record SequentialVerdict(VerdictOutcome Outcome, AnalysisEvidence Evidence, string? State, bool Decisive);

/// <summary>Seam: one sequential tick for a rollout.</summary>
public interface ISequentialAnalysisRunner
{
    Task<SequentialVerdict> RunAsync(AnalysisDue due, CancellationToken cancellationToken);
}

/// <summary>
/// One tick of sequential analysis: reads the cumulative counters of canary and stable (requests, 5xx,
/// latency buckets) with three queries per namespace and grid point, shared by its canaries and naming the workloads this process checks (<see cref="NamespaceCounters"/>), adds the
/// increment to the running evidence, and decides. When the tests let a step pass, the absolute
/// thresholds and custom metrics of the spec are judged over the interval as in fixed-window mode, so
/// they keep working: a breach there is a failed check (counted against failureLimit).
/// </summary>
public sealed class SequentialAnalysisRunner(IPrometheusClient client, PrometheusOptions options, TimeProvider timeProvider, IAnalysisRunner thresholds,
    WorkloadInterest? interest = null)
    : ISequentialAnalysisRunner
{
    private readonly WorkloadQueryBatcher _batcher = new(client, timeProvider, options.BatchWindow, interest);

    /// <summary>The metric result that marks a held step (the saga announces the hold once per step).</summary>
    public const string HoldMetric = "sequential:hold";

    /// <summary>Minimum evidence per version per step when the spec's minRequests is 0.</summary>
    public const int DefaultMinRequests = 50;

    public async Task<SequentialVerdict> RunAsync(AnalysisDue due, CancellationToken cancellationToken)
    {
        var spec = due.Spec.Sequential ?? throw new ArgumentException("the analysis spec is not sequential", nameof(due));
        var settings = new SequentialSettings(spec.Alpha, spec.Tolerance, due.Spec.MinRequests > 0 ? due.Spec.MinRequests : DefaultMinRequests,
            HoldAt: spec.HoldAt ?? 0, LatencyFloor: LatencyFloor(spec));
        var evidence = SequentialState.Deserialize(due.SequentialState) ?? SequentialEvidence.Start(settings);
        var context = $"sequential, canary {due.Target.Namespace}/{WorkloadNames.Canary(due.Target)} at {due.CanaryWeight}%";

        CounterSnapshot snapshot;
        try
        {
            snapshot = await ReadAsync(due, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var error = MetricCheck.Error("sequential:counters", null, null, e).Result;
            return new SequentialVerdict(VerdictOutcome.QueryError,
                new AnalysisEvidence($"QueryError: {context}; {error.Detail}", [error]), due.SequentialState, false);
        }

        evidence = evidence.Observe(snapshot, settings);
        var age = due.StepStartedAt is { } start ? due.DueAt - start : (TimeSpan?)null;
        var elapsed = age >= due.Interval;
        var holdOver = !(age < due.Interval + (spec.MaxHold ?? due.Interval)); // bounded: one interval past the step's unless the spec says
        var decision = evidence.Decide(settings, elapsed, stableServes: due.CanaryWeight < 100, holdOver);
        var state = SequentialState.Serialize(evidence);
        var results = Results(evidence, settings);
        if (decision.Test == SequentialEvidence.HoldTest && evidence.Held(settings) is (var test, var eValue, _))
            results.Add(new MetricResult(HoldMetric, eValue, null, settings.HoldAt, "hold", Detail: $"{test} e-value at or above the hold's; the step is held"));
        switch (decision.Outcome)
        {
            case SequentialOutcome.Reject:
                return new SequentialVerdict(VerdictOutcome.Failed,
                    new AnalysisEvidence($"Failed: {context}; {decision.Test} test rejected \"canary no worse than stable\": {decision.Detail}", results), state, true);
            case SequentialOutcome.Continue:
                return new SequentialVerdict(VerdictOutcome.NoData,
                    new AnalysisEvidence(decision.Test == SequentialEvidence.HoldTest
                        ? $"Held: {context}; {decision.Detail}"
                        : $"Accumulating: {context}; {decision.Test}: {decision.Detail}", results), state, false);
        }

        if (due.Spec.Metrics.Count == 0 && due.Spec.Comparison is null)
            return new SequentialVerdict(VerdictOutcome.Passed, new AnalysisEvidence($"Passed: {context}; {decision.Detail}", results), state, false);
        var classic = await thresholds.RunAsync(AnalysisMessages.RequestFor(due), cancellationToken);
        // The thresholds saw too little traffic in the interval: not a pass yet, keep accumulating.
        var outcome = classic.Outcome == VerdictOutcome.NoData ? VerdictOutcome.NoData : classic.Outcome;
        return new SequentialVerdict(outcome,
            new AnalysisEvidence($"{(outcome == VerdictOutcome.NoData ? "Accumulating" : outcome)}: {context}; {decision.Detail}; thresholds: {classic.Evidence.Summary}",
                [.. results, .. classic.Evidence.Metrics]), state, false);
    }

    /// <summary>The spec's floor in the unit of the histogram the counters come from (null: the default, also for a plan
    /// stored before the floor existed: the floor ends false rollbacks, and only bounds not chosen yet are affected).</summary>
    public static double LatencyFloor(SequentialSpec spec) =>
        (spec.LatencyFloor ?? SequentialSpec.DefaultLatencyFloor) / IstioQueries.DurationBucketUnit;

    // One compact answer per namespace and grid point (whatever the canaries' intervals), shared in tiers by every check
    // there, holding only the workloads this process's checks read (with several replicas, those of the rollouts it owns).
    private async Task<CounterSnapshot> ReadAsync(AnalysisDue due, CancellationToken cancellationToken)
    {
        var ns = due.Target.Namespace;
        var (canary, stable) = (WorkloadNames.Canary(due.Target), WorkloadNames.Stable(due.Target));
        var counters = await _batcher.NamedAsync("sequential-counters", ns, TimeSpan.Zero, due.DueAt,
            only => NamespaceCounters.ReadAsync(client, ns, due.DueAt, only), canary, stable, cancellationToken);
        return counters.Snapshot(canary, stable);
    }

    // The tests as metric results: the e-value against its threshold 1/α, with the counts.
    private static List<MetricResult> Results(SequentialEvidence evidence, SequentialSettings settings)
    {
        var errors = evidence.Errors;
        var list = new List<MetricResult>
        {
            new("sequential:error-rate", errors.EValue, null, 1 / settings.ErrorAlpha, errors.Rejects(settings.ErrorAlpha) ? "fail" : "pass",
                Detail: $"e-value; canary {errors.CanaryEvents}/{errors.CanaryExposure} 5xx, stable {errors.StableEvents}/{errors.StableExposure}"),
        };
        if (evidence.Latency is { } latency)
            list.Add(new("sequential:latency-tail", latency.EValue, null, 1 / settings.LatencyAlpha, latency.Rejects(settings.LatencyAlpha) ? "fail" : "pass",
                Detail: $"e-value over slower-than bounds [{string.Join(", ", latency.Bounds)}] ms"));
        return list;
    }
}

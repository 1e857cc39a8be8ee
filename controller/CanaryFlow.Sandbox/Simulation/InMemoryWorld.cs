using System.Collections.Concurrent;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Sandbox.Simulation;

/// <summary>
/// Stand-in for a cluster behind the engine's seams: records every weight the engine applies and
/// the workload changes it makes, and answers analysis from a script. It outlives controller
/// restarts, as a cluster would. Used by the engine tests and the load harness; the Kubernetes
/// adapters are tested against the sandbox API server instead.
/// </summary>
public sealed class InMemoryWorld : ITrafficRouter, IWorkloadController, IAnalysisRunner
{
    private readonly ConcurrentDictionary<RolloutTarget, TargetRecord> _targets = new();

    public sealed class TargetRecord
    {
        public readonly List<int> AppliedWeights = [];
        public int CanaryWeight;
        public int CanaryReplicas;
        public string? StableRevision;
        private ConcurrentQueue<VerdictOutcome>? _script;
        /// <summary>Verdicts to give before <see cref="Default"/>; made on first use (an empty queue per target was most of
        /// the engine benchmark's memory per rollout that is not the engine's).</summary>
        public ConcurrentQueue<VerdictOutcome> Script => LazyInitializer.EnsureInitialized(ref _script);
        internal bool TryNextScripted(out VerdictOutcome next)
        {
            next = default;
            return _script?.TryDequeue(out next) == true;
        }
        public VerdictOutcome Default = VerdictOutcome.Passed;
        /// <summary>Checks fail once the canary gets at least this weight (a release that breaks under load).</summary>
        public int FailFromWeight = int.MaxValue;
        public bool CanaryNeverReady;
        public bool StableNeverReady;
        /// <summary>How many preparations (promotions) are answered "applied, not available yet" before the canary (stable)
        /// is available; <see cref="int.MaxValue"/>: never. Each such answer may take <see cref="RollOutWithin"/>.</summary>
        public int CanaryAvailableAfterAsks, StableAvailableAfterAsks;
        public TimeSpan RollOutWithin = TimeSpan.FromMinutes(10);
        /// <summary>Preparations and promotions asked of this target so far.</summary>
        public int PrepareAsks, PromoteAsks;
        /// <summary>Called as a preparation is carried out (a test moves its clock there: the command waited in a queue).</summary>
        public Action? OnPrepare;
        /// <summary>When set, a promotion waits for it (so that something can happen while the rollout is Promoting).</summary>
        public TaskCompletionSource? HoldPromotion;
        public int AnalysisRuns;
    }

    public TargetRecord this[RolloutTarget target] => _targets.GetOrAdd(target, _ => new TargetRecord());

    /// <summary>Forgets every target (a benchmark measuring what the engine keeps, without this stand-in's share).</summary>
    public void Forget() => _targets.Clear();

    public Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken)
    {
        var t = this[target];
        lock (t) return Task.FromResult(new TrafficWeights(100 - t.CanaryWeight, t.CanaryWeight));
    }

    public Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken)
    {
        var t = this[target];
        lock (t)
        {
            var before = new TrafficWeights(100 - t.CanaryWeight, t.CanaryWeight);
            if (t.CanaryWeight != canaryWeight) t.AppliedWeights.Add(canaryWeight); // desired state: a repeat is no change
            t.CanaryWeight = canaryWeight;
            return Task.FromResult(before);
        }
    }

    public Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken)
    {
        var t = this[target];
        t.OnPrepare?.Invoke();
        lock (t) t.CanaryReplicas = 1;
        if (t.CanaryNeverReady) return Task.FromResult(WorkloadResult.Failed("progress deadline exceeded"));
        return Task.FromResult(Interlocked.Increment(ref t.PrepareAsks) > t.CanaryAvailableAfterAsks ? WorkloadResult.Ok
            : WorkloadResult.NotYet("canary not available yet: 0 of 1 replicas available", t.RollOutWithin));
    }

    public async Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken)
    {
        var t = this[target];
        if (t.HoldPromotion is { } hold) await hold.Task.WaitAsync(cancellationToken);
        if (t.StableNeverReady) return WorkloadResult.Failed("stable did not become available");
        if (Interlocked.Increment(ref t.PromoteAsks) <= t.StableAvailableAfterAsks)
            return WorkloadResult.NotYet("stable not available yet: 0 of 1 replicas available", t.RollOutWithin);
        lock (t) t.StableRevision = revision;
        return WorkloadResult.Ok;
    }

    public Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken)
    {
        var t = this[target];
        lock (t) t.CanaryReplicas = 0;
        return Task.CompletedTask;
    }

    public Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        var t = this[request.Target];
        Interlocked.Increment(ref t.AnalysisRuns);
        var outcome = t.TryNextScripted(out var next) ? next : t.CanaryWeight >= t.FailFromWeight ? VerdictOutcome.Failed : t.Default;
        var value = outcome == VerdictOutcome.Failed ? 0.8 : 0.999;
        var metric = new MetricResult("request-success-rate", outcome is VerdictOutcome.NoData or VerdictOutcome.QueryError ? null : value,
            0.99, null, outcome.ToString().ToLowerInvariant());
        return Task.FromResult(new AnalysisVerdict(outcome, new AnalysisEvidence($"success rate {metric.Value?.ToString() ?? "n/a"} (min 0.99)", [metric])));
    }
}

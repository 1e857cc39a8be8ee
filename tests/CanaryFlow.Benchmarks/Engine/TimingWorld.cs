using System.Collections.Concurrent;
using System.Diagnostics;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Sandbox.Simulation;

namespace CanaryFlow.Benchmarks.Engine;

/// <summary>The in-memory world, timed: from the moment a check starts to the moment the weight it
/// earned is applied (the engine's reaction time, without the analysis query itself).</summary>
public sealed class TimingWorld(InMemoryWorld world) : ITrafficRouter, IWorkloadController, IAnalysisRunner
{
    private readonly ConcurrentDictionary<RolloutTarget, long> _checkStarted = new();
    private readonly ConcurrentDictionary<RolloutTarget, long> _weightApplied = new();
    public ConcurrentBag<double> LatenciesMs { get; private set; } = [];
    /// <summary>From the last check to all traffic on stable (weight 0): a promotion, which updates the stable Deployment
    /// first; kept apart from a step's weight.</summary>
    public ConcurrentBag<double> ToStableMs { get; private set; } = [];
    /// <summary>From a weight applied to the start of the check that judges it: the analysis interval plus the engine's
    /// wait for the tick, the ask's trip through the bus and the worker's queue.</summary>
    public ConcurrentBag<double> WeightToCheckMs { get; private set; } = [];
    public long WeightCalls;
    /// <summary>Where each step's time went (worker, bus, saga).</summary>
    public CheckStages Stages { get; } = new();
    /// <summary>Off: checks and weights still happen, but are not sampled (outside a steady run's window).</summary>
    public volatile bool Sampling = true;

    public Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        _checkStarted[request.Target] = now;
        if (_weightApplied.TryRemove(request.Target, out var applied) && Sampling)
            WeightToCheckMs.Add(Stopwatch.GetElapsedTime(applied, now).TotalMilliseconds);
        return world.RunAsync(request, cancellationToken);
    }

    public async Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref WeightCalls);
        var result = await world.SetWeightsAsync(target, canaryWeight, cancellationToken);
        var applied = Stopwatch.GetTimestamp();
        if (_checkStarted.TryRemove(target, out var started) && Sampling)
        {
            (canaryWeight == 0 ? ToStableMs : LatenciesMs).Add(Stopwatch.GetElapsedTime(started, applied).TotalMilliseconds);
            if (canaryWeight != 0) Stages.WeightApplied(target, started, applied);
        }
        _weightApplied[target] = applied;
        return result;
    }

    /// <summary>Drops what the stand-in cluster and the samples hold, so that what is left on the heap is the engine's.</summary>
    public void Forget()
    {
        LatenciesMs = []; // a cleared bag keeps its arrays
        WeightToCheckMs = [];
        ToStableMs = [];
        Stages.Forget();
        _checkStarted.Clear();
        _weightApplied.Clear();
        world.Forget();
    }

    public Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken) => world.GetWeightsAsync(target, cancellationToken);
    public Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken) => world.PrepareCanaryAsync(target, revision, cancellationToken);
    public Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken) => world.PromoteStableAsync(target, revision, cancellationToken);
    public Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken) => world.ScaleCanaryToZeroAsync(target, cancellationToken);
}

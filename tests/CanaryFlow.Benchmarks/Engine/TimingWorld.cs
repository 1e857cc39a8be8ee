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
    public ConcurrentBag<double> LatenciesMs { get; private set; } = [];
    public long WeightCalls;

    public Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        _checkStarted[request.Target] = Stopwatch.GetTimestamp();
        return world.RunAsync(request, cancellationToken);
    }

    public async Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref WeightCalls);
        var result = await world.SetWeightsAsync(target, canaryWeight, cancellationToken);
        if (_checkStarted.TryRemove(target, out var started))
            LatenciesMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return result;
    }

    /// <summary>Drops what the stand-in cluster and the samples hold, so that what is left on the heap is the engine's.</summary>
    public void Forget()
    {
        LatenciesMs = []; // a cleared bag keeps its arrays
        _checkStarted.Clear();
        world.Forget();
    }

    public Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken) => world.GetWeightsAsync(target, cancellationToken);
    public Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken) => world.PrepareCanaryAsync(target, revision, cancellationToken);
    public Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken) => world.PromoteStableAsync(target, revision, cancellationToken);
    public Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken) => world.ScaleCanaryToZeroAsync(target, cancellationToken);
}

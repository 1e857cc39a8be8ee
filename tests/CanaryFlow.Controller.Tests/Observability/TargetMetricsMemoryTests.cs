using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;
using Prometheus;

namespace CanaryFlow.Controller.Tests.Observability;

[CollectionDefinition(nameof(TargetMetricsMemory), DisableParallelization = true)]
public sealed class TargetMetricsMemory;

/// <summary>Issue 15: what the per-target metrics keep per Canary, as kept bytes after a full collection. Alone in its
/// collection: other tests' allocations on other threads would count as kept here.</summary>
[Collection(nameof(TargetMetricsMemory))]
public sealed class TargetMetricsMemoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    /// <summary>One rollout as the bus delivers it: each message with strings of its own, a passed check per step.</summary>
    private static void Rollout(RolloutMetricsRecorder recorder, int i)
    {
        var (ns, name) = ($"ns-{i % 10}", $"svc-{i:D5}");
        var id = RolloutIds.ForTarget(new RolloutTarget(ns, name));
        var rollout = RolloutIds.ForRevision(new RolloutTarget(ns, name), "v2");
        var version = 0L;
        void Send(string phase, int weight) => recorder.Record(new RolloutTransitioned(id, rollout, new RolloutTarget(new string(ns), new string(name)),
            "v2", "v1", "x", new string(phase), weight, weight, 0, 3, 0, 0, "why", null, ++version, T0.AddMinutes(version)));
        Send(RolloutPhases.Initializing, 0);
        foreach (var w in new[] { 10, 20, 30 })
        {
            Send(RolloutPhases.Progressing, w);
            recorder.RecordCheck(id, VerdictKind.Passed);
        }
        Send(RolloutPhases.Succeeded, 0);
    }

    private static long Settled()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    // A method of its own: the exposition's text must not stay alive in this test's frame (unoptimised code keeps it).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static bool Serves(CanaryFlowMetrics metrics, string line) => ObservabilityUnitTests.Exposition(metrics).Contains(line);

    [Fact]
    public void Ten_thousand_targets_keep_under_400_bytes_each_in_the_metrics_and_nothing_once_their_Canaries_are_deleted()
    {
        const int targets = 10_000;
        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        var recorder = new RolloutMetricsRecorder(metrics);
        for (var i = 0; i < 10; i++) Rollout(recorder, targets + i); // every namespace's histogram children, JIT: paid once
        Serves(metrics, "");

        var before = Settled();
        for (var i = 0; i < targets; i++) Rollout(recorder, i);
        var perTarget = (Settled() - before) / (double)targets;
        Assert.True(Serves(metrics, "canaryflow_canary_weight_percent{namespace=\"ns-3\",target=\"svc-09993\"} 0"));

        for (var i = 0; i < targets; i++) recorder.Forget(RolloutIds.ForTarget(new RolloutTarget($"ns-{i % 10}", $"svc-{i:D5}")));
        var left = (Settled() - before) / (double)targets;
        GC.KeepAlive(recorder);

        // Per-target prometheus-net children kept ~2.7 KB a target (a gauge, a counter and two 11-bucket histograms).
        Assert.True(perTarget < 400, $"{perTarget:F0} bytes kept a target");
        // The pooled buffers of a scrape may stay; nothing of the targets does.
        Assert.True(left < 40, $"{left:F0} bytes a target kept after every Canary's deletion");
    }
}

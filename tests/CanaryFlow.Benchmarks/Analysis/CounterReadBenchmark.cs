using System.Diagnostics;
using System.Globalization;
using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Tests.Batching;
using CanaryFlow.Benchmarks.Reliability;

namespace CanaryFlow.Benchmarks.Analysis;

/// <summary>
/// Figures, not pass/fail: what one replica allocates (and how long it takes) to read one namespace's sequential
/// counters (requests, 5xx, 20 latency buckets per workload, as Prometheus answers the three batched queries) for N
/// workloads, read whole (as every replica did before) and keeping only the workloads of the rollouts it owns (1 in
/// <c>--replicas</c>). The bodies are served from memory through the client's own reader, so the figures are the
/// controller's work, not Prometheus's. Usage: <c>counters-read [--workloads 10000] [--replicas 3] [--reads 20]</c>.
/// </summary>
public static class CounterReadBenchmark
{
    private static readonly string[] Les = [.. new[] { 0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000 }
        .Select(le => le.ToString(CultureInfo.InvariantCulture)), "+Inf"];

    public static async Task<int> RunAsync(string[] args)
    {
        var workloads = ControllerSettings.IntArg(args, "--workloads", 10_000);
        var replicas = ControllerSettings.IntArg(args, "--replicas", 3);
        var reads = ControllerSettings.IntArg(args, "--reads", 20);
        var client = new NamespaceCounterBodies(workloads, Les);
        // A replica owns one rollout in `replicas`; each rollout has two workloads (canary and primary).
        var owned = new LabelFilter(Enumerable.Range(0, workloads).Where(w => w / 2 % replicas == 0).Select(Name));
        Console.WriteLine($"counters-read: {workloads:N0} workloads x {Les.Length} buckets (bucket body {client.Buckets.Length / 1048576.0:F1} MiB), " +
                          $"{owned.Count:N0} owned (1 in {replicas} rollouts), {reads} reads each, load average {ControllerSettings.LoadAverage():F1}");
        foreach (var (label, only) in new[] { ("every workload", (Func<LabelFilter>?)null), ($"owned only (1 in {replicas})", () => owned) })
        {
            await NamespaceCounters.ReadAsync(client, "shop", DateTimeOffset.UnixEpoch, only); // warm-up (JIT, tiering)
            var bytes = new long[reads];
            var ms = new double[reads];
            NamespaceCounters counters = null!;
            for (var i = 0; i < reads; i++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                var start = Stopwatch.GetTimestamp();
                counters = await NamespaceCounters.ReadAsync(client, "shop", DateTimeOffset.UnixEpoch, only); // completes synchronously here
                ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                bytes[i] = GC.GetAllocatedBytesForCurrentThread() - before;
            }
            Array.Sort(ms);
            Console.WriteLine($"  {label,-24} {bytes.Average() / 1048576.0,7:F2} MiB allocated per read, {ms[reads / 2],7:F1} ms median ({ms[reads * 9 / 10]:F1} ms p90); " +
                              $"svc-0000 requests {counters.Snapshot(Name(0), Name(1)).Canary.Requests}; load average {ControllerSettings.LoadAverage():F1}");
        }
        return 0;
    }

    private static string Name(int w) => NamespaceCounterBodies.Name(w);
}

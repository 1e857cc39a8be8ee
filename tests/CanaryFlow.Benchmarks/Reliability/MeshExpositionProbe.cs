using System.Buffers;
using System.Diagnostics;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// Figures, not pass/fail: what one exposition of the synthetic mesh costs the harness, read over HTTP as Prometheus reads
/// it, with the series spread over targets of K services or all on one. Each service gets the series a scale run gives it
/// (canary and primary, 200s, and 503s for a fifth of them). Prints per round over all targets: bytes, CPU time, bytes
/// allocated (the reader's, into one pooled buffer, included), and the slowest target. Usage:
/// <c>mesh-exposition [--services 3000] [--services-per-target 100] [--rounds 20] [--no-latency-series]</c>.
/// </summary>
public static class MeshExpositionProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var services = ControllerSettings.IntArg(args, "--services", 3000);
        var perTarget = ControllerSettings.IntArg(args, "--services-per-target", SimulatedCluster.DefaultServicesPerTarget);
        var rounds = ControllerSettings.IntArg(args, "--rounds", 20);
        var latencySeries = !new BenchArgs(args).Flag("--no-latency-series");
        await using var mesh = await MeshScrapeTargets.StartAsync((services + perTarget - 1) / perTarget, latencySeries);
        var random = new Random(9);
        for (var i = 0; i < services; i++)
        {
            foreach (var workload in new[] { $"svc-{i:D4}", $"svc-{i:D4}-primary" })
            {
                mesh.Record(i / perTarget, "scale", workload, 200, 20, 100);
                if (random.NextDouble() < 0.2) mesh.Record(i / perTarget, "scale", workload, 503, 30, 25);
            }
        }
        using var http = new HttpClient();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        long bytes = 0;
        var slowest = TimeSpan.Zero;
        await ReadAllAsync(); // warm-up: JIT, connections
        var (cpu0, alloc0) = (Process.GetCurrentProcess().TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: true));
        (bytes, slowest) = (0, TimeSpan.Zero);
        var wall = Stopwatch.StartNew();
        for (var r = 0; r < rounds; r++) await ReadAllAsync();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / rounds;
        var allocated = (GC.GetTotalAllocatedBytes(precise: true) - alloc0) / (double)rounds;
        Console.WriteLine($"mesh-exposition: {services} services over {mesh.ScrapeTargets.Count} targets of {perTarget}{(latencySeries ? "" : ", no duration histograms")}: per round over all targets " +
                          $"{bytes / (double)rounds / 1048576:F1} MiB of text, CPU {cpu:F0} ms, wall {wall.Elapsed.TotalMilliseconds / rounds:F0} ms, " +
                          $"allocated {allocated / 1024:F0} KiB; slowest target {slowest.TotalMilliseconds:F0} ms; load average {ControllerSettings.LoadAverage():F1}");
        ArrayPool<byte>.Shared.Return(buffer);
        return 0;

        async Task ReadAllAsync()
        {
            foreach (var target in mesh.ScrapeTargets)
            {
                var started = Stopwatch.GetTimestamp();
                await using var body = await http.GetStreamAsync($"http://{target}/metrics");
                for (int n; (n = await body.ReadAsync(buffer)) > 0;) bytes += n;
                if (Stopwatch.GetElapsedTime(started) > slowest) slowest = Stopwatch.GetElapsedTime(started);
            }
        }
    }
}

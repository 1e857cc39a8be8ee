using System.Buffers;
using System.Diagnostics;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Benchmarks.Reliability;
using CanaryFlow.Sandbox.Workloads;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Benchmarks.Analysis;

/// <summary>
/// Figures, not pass/fail: what reading namespace-wide Prometheus answers leaves on the large-object heap. A loopback
/// server answers every query with the bucket body of <c>--workloads</c> workloads (2,000: the 1,000-Canary load run's
/// 5 MB), sent without a length as Prometheus sends large answers; <c>--concurrency</c> reads side by side, <c>--rounds</c>
/// times, through the controller's <see cref="PrometheusClient"/> (<c>--variant chunks</c>, now) or through the body read
/// the client had before (<c>--variant pooled-array</c>: one array from the shared pool, doubled as the body grows). Then a
/// full collection: the large-object heap left is what the pool keeps. One variant per process (the pool is process-wide).
/// Usage: <c>body-pool --variant chunks|pooled-array [--workloads 2000] [--concurrency 12] [--rounds 20]</c>.
/// </summary>
public static class BodyPoolBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var variant = Array.IndexOf(args, "--variant") is var v and >= 0 ? args[v + 1] : "chunks";
        var workloads = ControllerSettings.IntArg(args, "--workloads", 2000);
        var concurrency = ControllerSettings.IntArg(args, "--concurrency", 12);
        var rounds = ControllerSettings.IntArg(args, "--rounds", 20);
        var body = new CanaryFlow.Analysis.Tests.Batching.NamespaceCounterBodies(workloads, [.. Enumerable.Range(0, 19).Select(i => (i * 10).ToString()), "+Inf"]).Buckets;

        var app = LoopbackApp.CreateBuilder().Build();
        app.MapPost("/api/v1/query", async (HttpContext context) =>
        {
            for (var at = 0; at < body.Length; at += 16 * 1024) // chunked, as Prometheus streams a large answer
                await context.Response.Body.WriteAsync(body.AsMemory(at, Math.Min(16 * 1024, body.Length - at)));
        });
        await app.StartAsync();
        using var client = new PrometheusClient(new PrometheusOptions { Address = LoopbackApp.AddressOf(app).ToString() }, TimeProvider.System);
        using var http = new HttpClient { BaseAddress = LoopbackApp.AddressOf(app) };

        var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
        var watch = Stopwatch.StartNew();
        var samples = 0;
        for (var round = 0; round < rounds; round++)
        {
            var reads = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(() => variant == "pooled-array"
                ? ReadAsBeforeAsync(http)
                : client.QueryVectorAsync("x_bucket", null, () => new Count(), CancellationToken.None))));
            samples = reads[0];
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated0;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        await app.StopAsync();
        Console.WriteLine($"body-pool {variant}: {rounds} x {concurrency} reads of a {body.Length / 1048576.0:F1} MiB answer ({samples:N0} samples) in {watch.Elapsed.TotalSeconds:F1} s; " +
                          $"allocated {allocated / 1048576.0:F0} MiB; after a full collection: large-object heap {info.GenerationInfo[3].SizeAfterBytes / 1048576.0:F0} MiB ({info.GenerationInfo[3].FragmentationAfterBytes / 1048576.0:F0} of it free), " +
                          $"whole heap {info.HeapSizeBytes / 1048576.0:F0} MiB; RSS {Environment.WorkingSet / 1048576.0:F0} MiB; load average {ControllerSettings.LoadAverage():F1}");
        return 0;
    }

    private sealed class Count : IVectorSink<int>
    {
        private int _count;
        public IReadOnlyList<string> Labels { get; } = ["destination_workload"];
        public void Add(ReadOnlySpan<string?> labelValues, double value) => _count++;
        public int Result() => _count;
    }

    /// <summary>The client's body read until this change (PrometheusClient.ReadPooledAsync at b078022), then the same reader.</summary>
    private static async Task<int> ReadAsBeforeAsync(HttpClient http)
    {
        using var response = await http.PostAsync("api/v1/query", new FormUrlEncodedContent([new("query", "x_bucket")]));
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(response.Content.Headers.ContentLength ?? 0, 16 * 1024, 64 * 1024 * 1024));
        var length = 0;
        await using (var stream = await response.Content.ReadAsStreamAsync())
            for (var bound = 0; bound < 1 << 20; bound++)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(length));
                if (read == 0) break;
                length += read;
            }
        try { return PrometheusVectorReader.Read(buffer.AsSpan(0, length), 200, () => new Count()); }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }
}

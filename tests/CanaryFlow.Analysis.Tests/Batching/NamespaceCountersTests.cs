using System.Globalization;
using System.Text;
using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using Xunit.Abstractions;

namespace CanaryFlow.Analysis.Tests.Batching;

/// <summary>
/// The compact counters of a namespace at the size of the 1,000-Canary load run (2,000 workloads, 20 buckets each: the
/// answer the sequential checks share): the same counts as the answer parsed into objects, for a small part of the
/// memory. Allocated bytes are counted on this thread (everything completes synchronously here), not timed.
/// </summary>
public sealed class NamespaceCountersTests(ITestOutputHelper output)
{
    private const int Workloads = 2000;
    private static readonly string[] Les = [.. new[] { 0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000 }
        .Select(le => le.ToString(CultureInfo.InvariantCulture)), "+Inf"];

    private static string Name(int w) => w % 2 == 0 ? $"svc-{w / 2:0000}" : $"svc-{w / 2:0000}-primary";

    private static byte[] Vector(IEnumerable<string> samples) =>
        Encoding.UTF8.GetBytes($$$"""{"status":"success","data":{"resultType":"vector","result":[{{{string.Join(",", samples)}}}]}}""");

    private static readonly byte[] Buckets = Vector(Enumerable.Range(0, Workloads).SelectMany(w => Les.Select((le, i) =>
        $$"""{"metric":{"destination_workload":"{{Name(w)}}","destination_workload_namespace":"load","le":"{{le}}"},"value":[1764640000.123,"{{w * 100 + i * 5}}"]}""")));

    private static readonly byte[] Requests = Vector(Enumerable.Range(0, Workloads).Select(w =>
        $$"""{"metric":{"destination_workload":"{{Name(w)}}","destination_workload_namespace":"load"},"value":[1764640000.123,"{{w * 100 + 95}}"]}"""));

    /// <summary>Serves the three counter queries from the bodies above through the sample-by-sample reader, as the client does.</summary>
    private sealed class Bodies : IPrometheusClient
    {
        public Task<PromQueryResult> QueryAsync(string promql, DateTimeOffset? time, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<PromQueryResult> QueryRangeAsync(string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<T> QueryVectorAsync<T>(string promql, DateTimeOffset? time, Func<IVectorSink<T>> newSink, CancellationToken cancellationToken) =>
            Task.FromResult(PrometheusVectorReader.Read(promql.Contains("_bucket", StringComparison.Ordinal) ? Buckets : Requests, 200, newSink));
    }

    [Fact]
    public async Task The_compact_counters_of_2000_workloads_hold_what_the_parsed_answer_holds_for_a_fraction_of_the_allocations()
    {
        await NamespaceCounters.ReadAsync(new Bodies(), "load", DateTimeOffset.UnixEpoch); // warm-up (JIT, statics)

        var before = GC.GetAllocatedBytesForCurrentThread();
        var compact = await NamespaceCounters.ReadAsync(new Bodies(), "load", DateTimeOffset.UnixEpoch);
        var compactBytes = GC.GetAllocatedBytesForCurrentThread() - before;

        // As before: a fresh array per body, the parser's copy, a PromSample per sample, then a dictionary per workload.
        before = GC.GetAllocatedBytesForCurrentThread();
        var bodies = new[] { Requests.ToArray(), Requests.ToArray(), Buckets.ToArray() };
        var requests = Grouped(PrometheusResponseParser.Parse(bodies[0], 200)).ToDictionary(g => g.Key, g => g.First().Point.Value);
        var errors = Grouped(PrometheusResponseParser.Parse(bodies[1], 200)).ToDictionary(g => g.Key, g => g.First().Point.Value);
        var buckets = Grouped(PrometheusResponseParser.Parse(bodies[2], 200))
            .ToDictionary(g => g.Key, g => g.GroupBy(s => s.Labels["le"]).ToDictionary(l => l.Key, l => l.First().Point.Value));
        var parsedBytes = GC.GetAllocatedBytesForCurrentThread() - before;

        output.WriteLine($"2,000 workloads x 20 buckets ({Buckets.Length / 1024} KiB bucket body): compact {compactBytes / 1024} KiB allocated, parsed objects {parsedBytes / 1024} KiB");
        foreach (var w in new[] { 0, 1, 1001, Workloads - 1 })
        {
            var arm = compact.Snapshot(Name(w), "absent").Canary;
            Assert.Equal((requests[Name(w)], errors[Name(w)]), (arm.Requests, arm.Errors));
            Assert.Equal(buckets[Name(w)]["+Inf"], arm.LatencyCount);
            Assert.Equal(Les[..^1].Select(le => buckets[Name(w)][le]), arm.Buckets);
        }
        Assert.Equal(Les[..^1].Select(le => double.Parse(le, CultureInfo.InvariantCulture)), compact.Les);
        Assert.Equal((0.0, 0.0, 0.0), (compact.Snapshot("c", "absent").Stable.Requests, compact.Snapshot("c", "absent").Stable.LatencyCount, compact.Snapshot("c", "absent").Stable.Buckets.Sum()));
        Assert.True(compactBytes * 3 < parsedBytes, $"compact {compactBytes} bytes, parsed {parsedBytes} bytes");
    }

    [Fact]
    public async Task The_counters_of_2000_workloads_are_held_in_arrays_small_enough_to_stay_off_the_large_object_heap()
    {
        var counters = await NamespaceCounters.ReadAsync(new Bodies(), "load", DateTimeOffset.UnixEpoch);

        const int largeObjectBytes = 85_000; // the runtime's threshold: arrays this large go to the large object heap
        Assert.True(Workloads * (3 + Les.Length - 1) * sizeof(double) > largeObjectBytes); // one array would be there
        Assert.InRange(counters.LargestPageBytes, 1, largeObjectBytes - 1);
        foreach (var w in new[] { 0, 371, 372, 1500, Workloads - 1 }) // both sides of page borders keep their own counts
            Assert.Equal(w * 100 + 95, counters.Snapshot(Name(w), "absent").Canary.Requests);
    }

    private static IEnumerable<IGrouping<string, PromSample>> Grouped(PromQueryResult result) =>
        result.Vector.Where(s => s.Labels.ContainsKey("destination_workload")).GroupBy(s => s.Labels["destination_workload"]);
}

using System.Text;
using CanaryFlow.Analysis.Prometheus;

namespace CanaryFlow.Analysis.Tests.Batching;

/// <summary>
/// The three namespace-wide counter answers of <paramref name="workloads"/> workloads (requests, 5xx, a bucket per
/// <paramref name="les"/>), in Prometheus's shape, read through the client's own reader; counts the queries. Values differ
/// per workload, bucket and query. Workload 2k is service k's canary, 2k + 1 its primary. Shared with the benchmarks
/// (<c>counters-read</c>), which link this file.
/// </summary>
public sealed class NamespaceCounterBodies(int workloads, IReadOnlyList<string> les) : IPrometheusClient
{
    public static string Name(int w) => w % 2 == 0 ? $"svc-{w / 2:00000}" : $"svc-{w / 2:00000}-primary";

    private static byte[] Vector(IEnumerable<string> samples) =>
        Encoding.UTF8.GetBytes($$$"""{"status":"success","data":{"resultType":"vector","result":[{{{string.Join(",", samples)}}}]}}""");

    private readonly byte[] _buckets = Vector(Enumerable.Range(0, workloads).SelectMany(w => les.Select((le, i) =>
        $$"""{"metric":{"destination_workload":"{{Name(w)}}","destination_workload_namespace":"shop","le":"{{le}}"},"value":[1764640000.123,"{{w * 100 + i * 5}}"]}""")));

    private readonly byte[] _requests = Vector(Enumerable.Range(0, workloads).Select(w =>
        $$"""{"metric":{"destination_workload":"{{Name(w)}}","destination_workload_namespace":"shop"},"value":[1764640000.123,"{{w * 100 + 95}}"]}"""));

    private readonly byte[] _errors = Vector(Enumerable.Range(0, workloads).Select(w =>
        $$"""{"metric":{"destination_workload":"{{Name(w)}}","destination_workload_namespace":"shop"},"value":[1764640000.123,"{{w % 7}}"]}"""));

    public int Queries;

    /// <summary>The PromQL of every query, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Sent { get; } = new();

    /// <summary>The bucket answer's body (the largest of the three).</summary>
    public byte[] Buckets => _buckets;

    public Task<PromQueryResult> QueryAsync(string promql, DateTimeOffset? time, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<PromQueryResult> QueryRangeAsync(string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    public Task<T> QueryVectorAsync<T>(string promql, DateTimeOffset? time, Func<IVectorSink<T>> newSink, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Queries);
        Sent.Enqueue(promql);
        var body = promql.Contains("_bucket", StringComparison.Ordinal) ? _buckets : promql.Contains("5..", StringComparison.Ordinal) ? _errors : _requests;
        return Task.FromResult(PrometheusVectorReader.Read(body, 200, newSink));
    }
}

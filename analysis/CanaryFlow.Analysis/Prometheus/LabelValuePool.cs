using System.Collections.Concurrent;
using System.Text.Json;

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>
/// One string per label value read by <see cref="PrometheusVectorReader"/>, shared by every answer: a value met before is
/// looked up from the reader's bytes (no allocation), a new one is made once. Why: the sequential counters are read
/// several times a tick, each answer with a sample per workload (and per bucket), and the batcher keeps each grid point's
/// counters for a minute. A fresh string per sample made every workload's name (and every bucket's le) again in every answer,
/// and kept it with the counters: at 1,000 Canaries 389,552 strings were live, 112,856 with the pool (docs/benchmarks.md,
/// "the live set and the GC settings").
/// Bounded: past <see cref="MaxValues"/> names (workloads come and go over months) it starts again empty.
/// </summary>
public static class LabelValuePool
{
    /// <summary>Far above the workloads × bucket bounds of any namespace-wide answer; ~100 bytes each.</summary>
    public const int MaxValues = 100_000;

    private const int LongestPooled = 256; // Kubernetes names are at most 253 characters
    private static readonly ConcurrentDictionary<string, string> Values = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> BySpan =
        Values.GetAlternateLookup<ReadOnlySpan<char>>();
    private static int _count;

    /// <summary>How many names the pool holds (approximate while reads run).</summary>
    public static int Count => Volatile.Read(ref _count);

    /// <summary>The reader's current string value, the pooled instance when it is short enough to pool.</summary>
    public static string Get(ref Utf8JsonReader reader)
    {
        var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (length > LongestPooled) return reader.GetString()!;
        Span<char> chars = stackalloc char[LongestPooled];
        return Get(chars[..reader.CopyString(chars)]);
    }

    public static string Get(ReadOnlySpan<char> value)
    {
        if (BySpan.TryGetValue(value, out var known)) return known;
        if (Interlocked.Increment(ref _count) > MaxValues)
        {
            Values.Clear(); // under races the count is approximate: it only bounds the table
            Interlocked.Exchange(ref _count, 1);
        }
        var made = new string(value);
        return Values.GetOrAdd(made, made);
    }
}

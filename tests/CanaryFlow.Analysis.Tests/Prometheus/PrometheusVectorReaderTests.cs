using System.Buffers;
using System.Text;
using CanaryFlow.Analysis.Prometheus;

namespace CanaryFlow.Analysis.Tests.Prometheus;

/// <summary>The vector read sample by sample gives what the documented parser gives, and fails as it does.</summary>
public class PrometheusVectorReaderTests
{
    /// <summary>Keeps every sample as (workload, le, value); with a filter, only the wanted workloads' samples.</summary>
    private sealed class Recording(LabelFilter? only = null) : IVectorSink<List<(string? Workload, string? Le, double Value)>>
    {
        private readonly List<(string?, string?, double)> _samples = [];
        public IReadOnlyList<string> Labels { get; } = ["destination_workload", "le"];
        public LabelFilter? Only => only;
        public void Add(ReadOnlySpan<string?> labelValues, double value) => _samples.Add((labelValues[0], labelValues[1], value));
        public List<(string? Workload, string? Le, double Value)> Result() => _samples;
    }

    private static List<(string? Workload, string? Le, double Value)> Read(string body, int status = 200) =>
        PrometheusVectorReader.Read(Encoding.UTF8.GetBytes(body), status, () => new Recording());

    private static List<(string? Workload, string? Le, double Value)> Parsed(string body) =>
        PrometheusVectorReader.Feed(PrometheusResponseParser.Parse(Encoding.UTF8.GetBytes(body), 200).Vector, new Recording());

    private const string Documented = """
        {"status":"success","data":{"resultType":"vector","result":[
          {"metric":{"destination_workload":"checkout","destination_workload_namespace":"shop","le":"100"},"value":[1764640000.5,"12"]},
          {"metric":{"destination_workload":"check\"out\u00e9","le":"+Inf"},"value":[1764640000.5,"1.5e+03"]},
          {"metric":{"le":"250"},"value":[1764640000.5,"NaN"]},
          {"metric":{"destination_workload":"native"},"histogram":[1764640000.5,{"count":"3","sum":"4","buckets":[[0,"1","2","3"]]}]},
          {"metric":{"destination_workload":"checkout-primary","le":"+Inf"},"value":[1764640000.5,"+Inf"]},
          {"metric":{"destination_workload":"checkout-primary","le":"-1"},"value":[1764640000.5,"-Inf"]}
        ]},"warnings":["a warning"]}
        """;

    [Fact]
    public void A_documented_vector_reads_as_the_parser_reads_it_with_escapes_special_values_and_native_histograms_skipped()
    {
        var read = Read(Documented);

        Assert.Equal(Parsed(Documented), read);
        Assert.Equal(5, read.Count); // the native-histogram sample has no value: skipped, as the parser skips it
        Assert.Equal(("check\"outé", "+Inf", 1500.0), read[1]);
        Assert.Equal(((string?)null, (string?)"250"), (read[2].Workload, read[2].Le));
        Assert.True(double.IsNaN(read[2].Value));
        Assert.Equal(double.PositiveInfinity, read[3].Value);
        Assert.Equal(double.NegativeInfinity, read[4].Value);
    }

    [Fact]
    public void Answers_read_one_after_another_share_one_string_per_label_value()
    {
        // The counters of every grid point are kept a minute: each must not hold its own copy of every workload's name.
        var (first, second) = (Read(Documented), Read(Documented));

        Assert.Same(first[0].Workload, second[0].Workload);
        Assert.Same(first[0].Le, second[0].Le);
        Assert.Same(first[1].Workload, second[1].Workload); // an escaped value too
        Assert.Equal("check\"outé", second[1].Workload);
        Assert.Same(first[3].Workload, first[4].Workload); // and within one answer
    }

    [Fact]
    public void The_label_value_pool_starts_again_empty_past_its_bound_and_still_gives_the_right_values()
    {
        var kept = LabelValuePool.Get("pool-bound-test");
        for (var i = 0; i <= LabelValuePool.MaxValues; i++) LabelValuePool.Get($"pool-bound-{i}");

        Assert.InRange(LabelValuePool.Count, 1, LabelValuePool.MaxValues);
        var again = LabelValuePool.Get("pool-bound-test");
        Assert.Equal("pool-bound-test", again);
        Assert.NotSame(kept, again); // it was dropped with the rest: the bound holds
    }

    [Fact]
    public void A_result_before_its_result_type_is_read_through_the_parser_with_a_fresh_sink()
    {
        const string reordered = """{"data":{"result":[{"metric":{"destination_workload":"a","le":"1"},"value":[1,"2"]}],"resultType":"vector"},"status":"success"}""";
        Assert.Equal([("a", "1", 2.0)], Read(reordered));
    }

    [Fact]
    public void Status_after_data_counts_only_once_the_whole_answer_is_read()
    {
        const string late = """{"data":{"resultType":"vector","result":[{"metric":{"destination_workload":"a","le":"1"},"value":[1,"2"]}]},"status":"success"}""";
        Assert.Equal([("a", "1", 2.0)], Read(late));
    }

    [Fact]
    public void An_error_answer_throws_what_the_parser_throws()
    {
        var bad = Assert.Throws<PrometheusQueryException>(() => Read("""{"status":"error","errorType":"bad_data","error":"parse error"}""", 400));
        Assert.Equal(("bad_data", "parse error", 400), (bad.ErrorType, bad.Error, bad.HttpStatus));
        Assert.IsType<PrometheusUnavailableException>(Assert.ThrowsAny<PrometheusQueryException>(() => Read("<html>bad gateway</html>", 502)));
        Assert.IsType<PrometheusUnavailableException>(Assert.ThrowsAny<PrometheusQueryException>(
            () => Read("""{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]""", 200)));
    }

    [Fact]
    public void A_matrix_answer_has_no_vector_samples()
    {
        Assert.Empty(Read("""{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"destination_workload":"a"},"values":[[1,"2"]]}]}}"""));
    }

    [Fact]
    public void A_filtered_read_keeps_exactly_the_wanted_workloads_samples_of_the_full_read_escaped_names_included()
    {
        var only = new LabelFilter(["checkout-primary", "check\"outé", "absent"]);

        var filtered = PrometheusVectorReader.Read(Encoding.UTF8.GetBytes(Documented), 200, () => new Recording(only));

        Assert.Equal(Read(Documented).Where(s => s.Workload is { } w && only.Contains(w)), filtered);
        Assert.Equal(3, filtered.Count); // the sample without a workload label and the native histogram are not kept
        Assert.Equal(filtered, PrometheusVectorReader.Feed(PrometheusResponseParser.Parse(Encoding.UTF8.GetBytes(Documented), 200).Vector, new Recording(only)));
    }

    [Fact]
    public void A_skipped_sample_is_stepped_over_whatever_the_order_of_its_parts()
    {
        // value before metric, the workload after le, and nested objects in a skipped sample's unknown parts
        const string body = """
            {"status":"success","data":{"resultType":"vector","result":[
              {"value":[1,"7"],"metric":{"destination_workload":"other","le":"1"},"extra":{"a":[1,{"b":2}]}},
              {"metric":{"le":"5","destination_workload":"other"},"value":[1,"8"]},
              {"metric":{"le":"5","destination_workload":"mine"},"value":[1,"9"]},
              {"metric":{"destination_workload":"mine","le":"1"},"extra":{"a":[1]},"value":[1,"3"]}
            ]}}
            """;
        var filtered = PrometheusVectorReader.Read(Encoding.UTF8.GetBytes(body), 200, () => new Recording(new LabelFilter(["mine"])));
        Assert.Equal([("mine", "5", 9.0), ("mine", "1", 3.0)], filtered);
    }

    [Fact]
    public void A_truncated_answer_still_fails_when_its_samples_are_skipped()
    {
        Assert.IsType<PrometheusUnavailableException>(Assert.ThrowsAny<PrometheusQueryException>(() => PrometheusVectorReader.Read(
            Encoding.UTF8.GetBytes("""{"status":"success","data":{"resultType":"vector","result":[{"metric":{"destination_workload":"other"},"value":[1,"2"]"""),
            200, () => new Recording(new LabelFilter(["mine"])))));
    }

    /// <summary>The body as a chain of segments of <paramref name="size"/> bytes: tokens split across chunks, as a body read in 64 KiB chunks splits them.</summary>
    private static ReadOnlySequence<byte> Split(string body, int size)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var first = new Chunk(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (var at = size; at < bytes.Length; at += size) last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public Chunk(ReadOnlyMemory<byte> memory, long runningIndex) => (Memory, RunningIndex) = (memory, runningIndex);
        public Chunk Append(ReadOnlyMemory<byte> memory) => (Chunk)(Next = new Chunk(memory, RunningIndex + Memory.Length));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public void A_body_in_chunks_reads_as_the_whole_body_with_every_token_split_somewhere(int chunk)
    {
        var only = new LabelFilter(["checkout-primary", "check\"outé"]);

        Assert.Equal(Read(Documented), PrometheusVectorReader.Read(Split(Documented, chunk), 200, () => new Recording()));
        Assert.Equal(PrometheusVectorReader.Read(Encoding.UTF8.GetBytes(Documented), 200, () => new Recording(only)),
            PrometheusVectorReader.Read(Split(Documented, chunk), 200, () => new Recording(only)));
        Assert.Equal(PrometheusResponseParser.Parse(Encoding.UTF8.GetBytes(Documented), 200).Vector.Select(v => v.Point.Value),
            PrometheusResponseParser.Parse(Split(Documented, chunk), 200).Vector.Select(v => v.Point.Value));
        Assert.IsType<PrometheusUnavailableException>(Assert.ThrowsAny<PrometheusQueryException>(
            () => PrometheusVectorReader.Read(Split("<html>bad gateway</html>", chunk), 502, () => new Recording())));
    }
}

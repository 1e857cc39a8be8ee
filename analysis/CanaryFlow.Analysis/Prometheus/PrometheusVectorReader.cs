using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>
/// Takes an instant vector sample by sample, keeping only what it needs: the values of <see cref="Labels"/> and the
/// sample's value. One sink per answer (a retried query gets a fresh one).
/// </summary>
public interface IVectorSink<out T>
{
    /// <summary>The labels whose values <see cref="Add"/> receives, in this order.</summary>
    IReadOnlyList<string> Labels { get; }

    /// <summary>When set, only samples whose first label (<c>Labels[0]</c>) has one of these values reach
    /// <see cref="Add"/>; the others are skipped while reading, before any string is made of them.</summary>
    LabelFilter? Only => null;

    /// <param name="labelValues">One entry per label of <see cref="Labels"/>: its value, or null where the sample has none.</param>
    void Add(ReadOnlySpan<string?> labelValues, double value);

    T Result();
}

/// <summary>
/// Reads a Prometheus instant-vector answer straight from its UTF-8 body into an <see cref="IVectorSink{T}"/>, with no
/// document and no object per sample. Why: the sequential counters are namespace-wide answers (every histogram bucket
/// of every workload: 40,000 samples, ~5 MB, for 1,000 canaries); parsed into a <see cref="JsonDocument"/> and a
/// <see cref="PromSample"/> with a label dictionary each, one answer cost ~30 MB of short-lived objects several times a
/// tick. Anything but a success vector in the usual shape (an error envelope, another result type, resultType after
/// result) goes through <see cref="PrometheusResponseParser"/>, which throws as it always has or yields the samples.
/// </summary>
public static class PrometheusVectorReader
{
    public static T Read<T>(ReadOnlySpan<byte> json, int httpStatus, Func<IVectorSink<T>> newSink)
    {
        var sink = newSink();
        // The documented parser decides the rest: it throws for an error answer or a body that is not the envelope.
        return TryRead(new Utf8JsonReader(json, Options), sink) ? sink.Result() : Feed(PrometheusResponseParser.Parse(json, httpStatus).Vector, newSink());
    }

    /// <summary>The same, from a body read in chunks (<see cref="PooledBody"/>).</summary>
    public static T Read<T>(in ReadOnlySequence<byte> json, int httpStatus, Func<IVectorSink<T>> newSink)
    {
        if (json.IsSingleSegment) return Read(json.FirstSpan, httpStatus, newSink);
        var sink = newSink();
        return TryRead(new Utf8JsonReader(json, Options), sink) ? sink.Result() : Feed(PrometheusResponseParser.Parse(json, httpStatus).Vector, newSink());
    }

    private static readonly JsonReaderOptions Options = new() { MaxDepth = 16 };

    /// <summary>Parsed samples into a sink (the path for answers read as objects).</summary>
    public static T Feed<T>(IReadOnlyList<PromSample> samples, IVectorSink<T> sink)
    {
        var labels = sink.Labels;
        var only = sink.Only;
        var values = new string?[labels.Count];
        foreach (var sample in samples)
        {
            for (var i = 0; i < labels.Count; i++) values[i] = sample.Labels.TryGetValue(labels[i], out var v) ? v : null;
            if (only is not null && (values[0] is not { } key || !only.Contains(key))) continue;
            sink.Add(values, sample.Point.Value);
        }
        return sink.Result();
    }

    /// <summary>False when the body is not a success vector whose resultType comes before its result (the sink may then hold part of it).</summary>
    private static bool TryRead<T>(Utf8JsonReader reader, IVectorSink<T> sink)
    {
        try
        {
            return TryReadEnvelope(ref reader, sink);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryReadEnvelope<T>(ref Utf8JsonReader reader, IVectorSink<T> sink)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
        string? status = null, resultType = null;
        var sawResult = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("status"u8))
            {
                reader.Read();
                status = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) return false;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("resultType"u8))
                    {
                        reader.Read();
                        resultType = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }
                    else if (reader.ValueTextEquals("result"u8))
                    {
                        if (resultType != "vector") return false;
                        reader.Read();
                        if (!ReadSamples(ref reader, sink)) return false;
                        sawResult = true;
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return reader.TokenType == JsonTokenType.EndObject && status == "success" && sawResult;
    }

    private static bool ReadSamples<T>(ref Utf8JsonReader reader, IVectorSink<T> sink)
    {
        if (reader.TokenType != JsonTokenType.StartArray) return false;
        var labels = sink.Labels;
        var only = sink.Only;
        var wanted = labels.Select(l => System.Text.Encoding.UTF8.GetBytes(l)).ToArray();
        var values = new string?[labels.Count];
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            Array.Clear(values);
            double? value = null;
            var skipped = false; // another's sample: the rest of it is only stepped over
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (skipped)
                {
                    reader.Read();
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("metric"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject) return false;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var index = IndexOf(ref reader, wanted);
                        reader.Read();
                        if (index == 0 && only is not null && reader.TokenType == JsonTokenType.String && !Wanted(ref reader, only))
                        {
                            skipped = true;
                            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName) reader.Skip(); // the metric's other labels
                            break;
                        }
                        if (index >= 0 && reader.TokenType == JsonTokenType.String) values[index] = LabelValuePool.Get(ref reader); // one string per name, shared
                        else reader.Skip();
                    }
                    // A sample without the filtered label belongs to no wanted key.
                    if (only is not null && values[0] is null) skipped = true;
                }
                else if (reader.ValueTextEquals("value"u8))
                {
                    // [ <unix seconds as a JSON number>, "<value as a string>" ]
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray || !reader.Read() || reader.TokenType != JsonTokenType.Number) return false;
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String) return false;
                    value = Value(ref reader);
                    if (!reader.Read() || reader.TokenType != JsonTokenType.EndArray) return false;
                }
                else
                {
                    reader.Read(); // "histogram" (a native histogram sample: skipped, as the parser does) or anything new
                    reader.Skip();
                }
            }
            if (!skipped && value is { } v) sink.Add(values, v);
        }
        return reader.TokenType == JsonTokenType.EndArray;
    }

    // The label's value compared where it lies; escaped or split over two chunks, unescaped into a stack buffer first.
    private static bool Wanted(ref Utf8JsonReader reader, LabelFilter only)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence) return only.Contains(reader.ValueSpan);
        if ((reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length) > 256) return only.Contains(reader.GetString()!);
        Span<char> chars = stackalloc char[256];
        return only.Contains(chars[..reader.CopyString(chars)]);
    }

    private static int IndexOf(ref Utf8JsonReader reader, byte[][] wanted)
    {
        for (var i = 0; i < wanted.Length; i++)
            if (reader.ValueTextEquals(wanted[i])) return i;
        return -1;
    }

    // A sample value as Prometheus writes it: a decimal, "NaN", "+Inf" or "-Inf".
    private static double Value(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || (reader.HasValueSequence && reader.ValueSequence.Length > 64)) return PrometheusResponseParser.ParseValue(reader.GetString()!);
        Span<byte> copy = stackalloc byte[64];
        var text = reader.HasValueSequence ? copy[..reader.CopyString(copy)] : reader.ValueSpan; // split over two chunks
        if (text.SequenceEqual("+Inf"u8) || text.SequenceEqual("Inf"u8)) return double.PositiveInfinity;
        if (text.SequenceEqual("-Inf"u8)) return double.NegativeInfinity;
        if (text.SequenceEqual("NaN"u8)) return double.NaN;
        return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}

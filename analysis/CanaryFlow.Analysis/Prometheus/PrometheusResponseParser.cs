using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>
/// Parses the Prometheus HTTP API envelope exactly as documented
/// (https://prometheus.io/docs/prometheus/latest/querying/api/): status, data.resultType,
/// data.result, errorType, error, warnings. Native-histogram samples are skipped.
/// </summary>
public static class PrometheusResponseParser
{
    /// <exception cref="PrometheusQueryException">status "error", or a body that is not the documented envelope.</exception>
    public static PromQueryResult Parse(ReadOnlySpan<byte> json, int httpStatus) => ParseDocument(json.ToArray(), httpStatus);

    /// <summary>A body read in chunks: one chunk is parsed where it lies; several are copied into one array first (the
    /// document needs contiguous bytes; a document over a sequence would rent that array from the shared pool, which
    /// keeps large ones, see <see cref="PooledBody"/>).</summary>
    public static PromQueryResult Parse(in ReadOnlySequence<byte> json, int httpStatus) =>
        ParseDocument(json.IsSingleSegment ? json.First : json.ToArray(), httpStatus);

    private static PromQueryResult ParseDocument(ReadOnlyMemory<byte> json, int httpStatus)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw Failure("bad_response", $"not JSON: {e.Message}", httpStatus);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Failure("bad_response", "the body is not a JSON object", httpStatus);
            var status = GetString(root, "status");
            if (status == "error")
                throw Failure(GetString(root, "errorType") ?? "unknown", GetString(root, "error") ?? "(no message)", httpStatus);
            if (status != "success") throw Failure("bad_response", $"unknown status '{status}'", httpStatus);
            if (!root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
                throw Failure("bad_response", "no data object", httpStatus);

            var warnings = root.TryGetProperty("warnings", out var w) && w.ValueKind == JsonValueKind.Array
                ? w.EnumerateArray().Select(x => x.GetString() ?? "").ToArray()
                : [];
            if (!data.TryGetProperty("result", out var result)) throw Failure("bad_response", "no data.result", httpStatus);

            try
            {
                return GetString(data, "resultType") switch
                {
                    "vector" => new PromQueryResult(PromResultType.Vector, ParseVector(result), [], null, null, warnings),
                    "matrix" => new PromQueryResult(PromResultType.Matrix, [], ParseMatrix(result), null, null, warnings),
                    "scalar" => new PromQueryResult(PromResultType.Scalar, [], [], ParsePoint(result), null, warnings),
                    "string" => new PromQueryResult(PromResultType.String, [], [], null, ParseStringResult(result), warnings),
                    var other => throw Failure("bad_response", $"unknown resultType '{other}'", httpStatus),
                };
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or IndexOutOfRangeException or KeyNotFoundException)
            {
                throw Failure("bad_response", $"malformed result: {e.Message}", httpStatus);
            }
        }
    }

    /// <summary>A sample value as Prometheus writes it: a decimal, "NaN", "+Inf" or "-Inf".</summary>
    public static double ParseValue(string text) => text switch
    {
        "NaN" => double.NaN,
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    private static PrometheusQueryException Failure(string errorType, string error, int httpStatus) =>
        // A 5xx/429 or an unreadable body from a proxy means the server is struggling: transient.
        // An unreadable 2xx is a broken proxy too; an unreadable 401/403/404 is a configuration error.
        httpStatus >= 500 || httpStatus == 429 || errorType is "timeout" or "unavailable" || (errorType == "bad_response" && httpStatus < 400)
            ? new PrometheusUnavailableException(errorType, error, httpStatus)
            : new PrometheusQueryException(errorType, error, httpStatus);

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static PromSample[] ParseVector(JsonElement result) =>
        result.EnumerateArray()
            .Where(e => e.TryGetProperty("value", out _)) // native histograms carry "histogram" instead
            .Select(e => new PromSample(ParseLabels(e), ParsePoint(e.GetProperty("value"))))
            .ToArray();

    private static PromSeries[] ParseMatrix(JsonElement result) =>
        result.EnumerateArray()
            .Select(e => new PromSeries(
                ParseLabels(e),
                e.TryGetProperty("values", out var values) ? values.EnumerateArray().Select(ParsePoint).ToArray() : []))
            .ToArray();

    private static PromPoint ParsePoint(JsonElement pair)
    {
        // [ <unix seconds as a JSON number>, "<value as a string>" ]
        var seconds = pair[0].GetDouble();
        var value = ParseValue(pair[1].GetString() ?? throw new FormatException("a sample value is not a string"));
        return new PromPoint(DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000)), value);
    }

    private static string ParseStringResult(JsonElement pair) => pair[1].GetString() ?? "";

    private static Dictionary<string, string> ParseLabels(JsonElement element)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (element.TryGetProperty("metric", out var metric) && metric.ValueKind == JsonValueKind.Object)
            foreach (var label in metric.EnumerateObject())
                labels[label.Name] = label.Value.GetString() ?? "";
        return labels;
    }
}

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>The result types of the Prometheus HTTP API (<c>data.resultType</c>).</summary>
public enum PromResultType { Vector, Matrix, Scalar, String }

/// <summary>One sample: Prometheus sends the value as a string so that NaN and ±Inf survive JSON.</summary>
public readonly record struct PromPoint(DateTimeOffset Timestamp, double Value);

/// <summary>An instant-vector element.</summary>
public sealed record PromSample(IReadOnlyDictionary<string, string> Labels, PromPoint Point);

/// <summary>A range-vector (matrix) element.</summary>
public sealed record PromSeries(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<PromPoint> Points);

/// <summary>
/// A successful query response. Exactly one of <see cref="Vector"/>, <see cref="Matrix"/>,
/// <see cref="Scalar"/> or <see cref="Text"/> carries the data, by <see cref="ResultType"/>.
/// </summary>
public sealed record PromQueryResult(
    PromResultType ResultType,
    IReadOnlyList<PromSample> Vector,
    IReadOnlyList<PromSeries> Matrix,
    PromPoint? Scalar,
    string? Text,
    IReadOnlyList<string> Warnings);

/// <summary>Prometheus answered <c>status: "error"</c> (e.g. bad_data for bad PromQL): retrying will not help.</summary>
public class PrometheusQueryException(string errorType, string error, int httpStatus)
    : Exception($"Prometheus {errorType}: {error} (HTTP {httpStatus})")
{
    public string ErrorType { get; } = errorType;
    public string Error { get; } = error;
    public int HttpStatus { get; } = httpStatus;
}

/// <summary>Prometheus is unavailable or overloaded (5xx, 429, timeout, unparseable answer): worth a retry.</summary>
public sealed class PrometheusUnavailableException(string errorType, string error, int httpStatus)
    : PrometheusQueryException(errorType, error, httpStatus);

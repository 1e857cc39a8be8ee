using System.Globalization;
using CanaryFlow.Contracts;

namespace CanaryFlow.Analysis.Verdicts;

public enum CheckStatus { Pass, Fail, NoData, Error }

/// <summary>One metric's judgement: the evidence record plus its status for combining.</summary>
public sealed record MetricCheck(CheckStatus Status, MetricResult Result)
{
    /// <summary>Judges a measured value against the metric's bounds. NaN or no value is NoData, never a pass.</summary>
    public static MetricCheck Judge(MetricSpec spec, double? value, string detail)
    {
        if (value is not { } v || double.IsNaN(v))
            return NoData(spec, detail + (value is null ? "; no data" : "; value is NaN"));
        var below = spec.Min is { } min && v < min;
        var above = spec.Max is { } max && v > max;
        var status = below || above ? CheckStatus.Fail : CheckStatus.Pass;
        var why = below ? $"; {Format(v)} < min {Format(spec.Min!.Value)}"
            : above ? $"; {Format(v)} > max {Format(spec.Max!.Value)}"
            : "";
        return new MetricCheck(status, new MetricResult(spec.Name, v, spec.Min, spec.Max, status == CheckStatus.Pass ? "pass" : "fail", Detail: detail + why));
    }

    public static MetricCheck NoData(MetricSpec spec, string detail) =>
        new(CheckStatus.NoData, new MetricResult(spec.Name, null, spec.Min, spec.Max, "nodata", Detail: detail));

    public static MetricCheck Error(string metric, double? min, double? max, Exception error) =>
        new(CheckStatus.Error, new MetricResult(metric, null, min, max, "error", Detail: Describe(error)));

    /// <summary>The message of a query failure, as shown in evidence.</summary>
    public static string Describe(Exception error) => error switch
    {
        Prometheus.PrometheusQueryException q => $"query error {q.ErrorType}: {q.Error}",
        Polly.CircuitBreaker.BrokenCircuitException => "Prometheus circuit open after repeated failures",
        Polly.Timeout.TimeoutRejectedException => "Prometheus query timed out",
        _ => $"query failed: {error.GetBaseException().Message}",
    };

    public static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

namespace CanaryFlow.Controller.Observability;

/// <summary>A time axis in the unit that suits the rollout's length: seconds, minutes or hours since its start.</summary>
public sealed record TimeAxis(string Unit, double SecondsPerUnit, double Min, double Max)
{
    public string Label => $"{Unit} since start";

    public double Of(DateTimeOffset start, DateTimeOffset at) => (at - start).TotalSeconds / SecondsPerUnit;
}

/// <summary>A value axis: the data's range (thresholds included) with room around it.</summary>
public sealed record ValueAxis(double Min, double Max);

/// <summary>
/// The axes of a rollout report, computed from the data so that every value and threshold is inside
/// with some room, a flat series still gets a readable range (never 0.495 to 0.495), and a 10-second
/// rollout is drawn in seconds, not on a 1-minute axis.
/// </summary>
public static class ReportAxes
{
    /// <summary>Room on each side, as a share of the data's span.</summary>
    public const double Padding = 0.06;

    public static TimeAxis Time(IReadOnlyList<TimelinePoint> points)
    {
        var seconds = points.Count == 0 ? 0 : Math.Max(0, (points[^1].At - points[0].At).TotalSeconds);
        var (unit, perUnit) = seconds switch
        {
            <= 120 => ("seconds", 1.0),
            <= 2 * 3600 => ("minutes", 60.0),
            _ => ("hours", 3600.0),
        };
        var span = seconds / perUnit;
        if (span <= 0) span = 1; // one point: one unit of room, the point at the start
        return new TimeAxis(unit, perUnit, -span * Padding / 2, span * (1 + Padding / 2));
    }

    /// <summary>The range of <paramref name="values"/> (nulls and non-finite values skipped) with padding.</summary>
    /// <param name="nonNegative">Values that cannot be negative (latency, rates): the range does not go below 0.</param>
    public static ValueAxis Values(IEnumerable<double?> values, bool nonNegative)
    {
        var finite = values.Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).ToList();
        if (finite.Count == 0) return new ValueAxis(0, 1);
        var (min, max) = (finite.Min(), finite.Max());
        var span = max - min;
        // A flat series: room of 1% of its size (at least 0.01), so 0.495 shows as 0.49..0.50.
        var pad = span > 1e-9 * Math.Max(1, Math.Abs(max)) ? span * Padding : Math.Max(Math.Abs(max) * 0.01, 0.01);
        var low = min - pad;
        if (nonNegative && min >= 0 && low < 0) low = 0;
        return new ValueAxis(low, max + pad);
    }

    public static ValueAxis Weight => new(-100 * Padding / 2, 100 * (1 + Padding / 2));
}

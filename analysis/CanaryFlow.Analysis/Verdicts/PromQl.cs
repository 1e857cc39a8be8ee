using System.Globalization;

namespace CanaryFlow.Analysis.Verdicts;

/// <summary>Small helpers to write PromQL safely.</summary>
public static class PromQl
{
    /// <summary>A label value inside double quotes: backslash and quote escaped.</summary>
    public static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>A PromQL duration: "90s", "5m", "1500ms".</summary>
    public static string Duration(TimeSpan span)
    {
        if (span <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(span), "a PromQL range must be positive");
        var ms = (long)Math.Round(span.TotalMilliseconds);
        if (ms % 3_600_000 == 0) return (ms / 3_600_000).ToString(CultureInfo.InvariantCulture) + "h";
        if (ms % 60_000 == 0) return (ms / 60_000).ToString(CultureInfo.InvariantCulture) + "m";
        if (ms % 1000 == 0) return (ms / 1000).ToString(CultureInfo.InvariantCulture) + "s";
        return ms.ToString(CultureInfo.InvariantCulture) + "ms";
    }
}

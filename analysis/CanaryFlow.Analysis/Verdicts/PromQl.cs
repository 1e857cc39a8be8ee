using System.Globalization;

namespace CanaryFlow.Analysis.Verdicts;

/// <summary>Small helpers to write PromQL safely.</summary>
public static class PromQl
{
    /// <summary>A label value inside double quotes: backslash and quote escaped.</summary>
    public static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>A regular expression (RE2, as Prometheus anchors it) matching exactly these values and no other: each
    /// value's metacharacters escaped, sorted so that the same set always makes the same query text.</summary>
    public static string AnyOf(IEnumerable<string> values) =>
        string.Join("|", values.Order(StringComparer.Ordinal).Select(EscapeRegex));

    private static string EscapeRegex(string value)
    {
        if (value.AsSpan().IndexOfAny(RegexMeta) < 0) return value; // Kubernetes names: almost always
        var escaped = new System.Text.StringBuilder(value.Length + 4);
        foreach (var c in value)
        {
            if (RegexMeta.Contains(c)) escaped.Append('\\');
            escaped.Append(c);
        }
        return escaped.ToString();
    }

    private static readonly System.Buffers.SearchValues<char> RegexMeta = System.Buffers.SearchValues.Create(@"\.+*?()|[]{}^$");

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

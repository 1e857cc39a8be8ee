using System.Buffers;
using System.Globalization;
using System.Text;

namespace CanaryFlow.Controller.Observability;

/// <summary>Families whose samples are written at each scrape from state their owner keeps anyway, rather than kept as
/// prometheus-net children (see <see cref="CanaryFlowMetrics.ExportAsync"/>).</summary>
public interface IScrapeTimeSeries
{
    ValueTask WriteAsync(MetricsText text, CancellationToken ct);
}

/// <summary>
/// Writes families in the Prometheus text format (0.0.4) or in OpenMetrics, as prometheus-net writes them: in
/// OpenMetrics a counter's family is named without <c>_total</c> and numbers carry a decimal point. UTF-8 into a pooled
/// buffer, handed to the stream every few KB, so that a scrape of thousands of targets keeps no copy of its text.
/// </summary>
public sealed class MetricsText(Stream to, bool openMetrics)
{
    private const int FlushAt = 16 * 1024;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(FlushAt + 4096);
    private int _length;

    public void Family(string name, string help, string type)
    {
        var family = openMetrics && type == "counter" && name.EndsWith("_total", StringComparison.Ordinal) ? name[..^"_total".Length] : name;
        Append("# HELP "); Append(family); Append(" "); Append(help); Append("\n");
        Append("# TYPE "); Append(family); Append(" "); Append(type); Append("\n");
    }

    /// <summary>One sample of a family labelled <c>namespace</c>, <c>target</c> and, when <paramref name="label"/> is
    /// given, one more.</summary>
    public void Sample(string name, string ns, string target, string? label, string? value, long number)
    {
        Append(name); Append("{namespace=\""); Escaped(ns); Append("\",target=\""); Escaped(target);
        if (label is not null) { Append("\","); Append(label); Append("=\""); Escaped(value ?? ""); }
        Append("\"} ");
        Span<char> digits = stackalloc char[24];
        number.TryFormat(digits, out var n, provider: CultureInfo.InvariantCulture);
        Append(digits[..n]);
        if (openMetrics) Append(".0");
        Append("\n");
    }

    /// <summary>Hands what is buffered to the stream once there is enough of it; call between samples.</summary>
    public ValueTask PaceAsync(CancellationToken ct) => _length >= FlushAt ? FlushAsync(ct) : ValueTask.CompletedTask;

    public async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_length > 0) await to.WriteAsync(_buffer.AsMemory(0, _length), ct);
        _length = 0;
    }

    /// <summary>Gives the buffer back; nothing may be written after.</summary>
    public void Release()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void Escaped(string value)
    {
        if (value.AsSpan().IndexOfAny("\\\"\n") < 0) { Append(value); return; }
        foreach (var c in value)
            Append(c switch { '\\' => "\\\\", '"' => "\\\"", '\n' => "\\n", _ => c.ToString() });
    }

    private void Append(ReadOnlySpan<char> chars)
    {
        var needed = Encoding.UTF8.GetMaxByteCount(chars.Length);
        if (_length + needed > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + needed));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        _length += Encoding.UTF8.GetBytes(chars, _buffer.AsSpan(_length));
    }
}

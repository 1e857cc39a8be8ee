using System.Globalization;
using ScottPlot;
using SkiaSharp;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// Draws a rollout's timeline (PNG and SVG): canary weight with each check's verdict, then success rate
/// and P99 latency of canary and stable with the thresholds as dashed lines and each check's verdict on
/// the canary's values; one time axis for the three panels, in the unit that suits the rollout's length.
/// </summary>
public static class RolloutReport
{
    public const int Width = 1000;
    public const int Height = 760;

    // Colour and shape both tell the verdict, so it reads in grey print and for colour-blind readers too.
    private static readonly (string Verdict, Color Color, MarkerShape Shape, string Label)[] Verdicts =
    [
        ("pass", Colors.Green, MarkerShape.FilledCircle, "check passed"),
        ("fail", Colors.Red, MarkerShape.FilledTriangleUp, "check failed"),
        ("inconclusive", Colors.Orange, MarkerShape.FilledSquare, "inconclusive"),
    ];
    private static readonly Color Canary = Colors.Blue;
    private static readonly Color Stable = Colors.Gray;
    internal const string ThresholdHex = "#8B0000";
    private static readonly Color Threshold = Color.FromHex(ThresholdHex);

    static RolloutReport()
    {
        // Without it ScottPlot picks a serif font; DejaVu ships with Debian's fonts-dejavu-core.
        Fonts.Default = "DejaVu Sans";
    }

    public static byte[] Png(RolloutTimeline timeline)
    {
        using var stream = new MemoryStream();
        WritePng(timeline, stream);
        return stream.ToArray();
    }

    public static string Svg(RolloutTimeline timeline)
    {
        using var stream = new MemoryStream();
        WriteSvg(timeline, stream);
        return System.Text.Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    /// <summary>Draws the PNG into <paramref name="output"/>: Skia's encoded bytes are copied straight out, with no array
    /// of the whole picture in between.</summary>
    public static void WritePng(RolloutTimeline timeline, Stream output)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height));
        surface.Canvas.Clear(SKColors.White);
        Draw(timeline, dashes: true).Render(surface.Canvas, new PixelRect(new PixelSize(Width, Height)));
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        using var encoded = png.AsStream();
        encoded.CopyTo(output);
    }

    /// <summary>Draws the SVG into <paramref name="output"/> as Skia writes it. A report's SVG is 100-200 KB: building it
    /// in memory first (a growing buffer, its copy, a string and the string's bytes) put about 0.7 MB per report on the
    /// large object heap, which only a full collection frees.</summary>
    public static void WriteSvg(RolloutTimeline timeline, Stream output)
    {
        using (var skStream = new SKManagedWStream(output))
        using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, Width, Height), skStream))
        {
            canvas.Clear(SKColors.White);
            // Skia's SVG canvas cannot write dash effects (it prints "Unsupported path effect" for each):
            // in the SVG, stable and the thresholds are told apart by colour and legend alone.
            Draw(timeline, dashes: false).Render(canvas, new PixelRect(new PixelSize(Width, Height)));
        } // the SVG is complete only once the canvas is disposed
    }

    private static Multiplot Draw(RolloutTimeline timeline, bool dashes)
    {
        var points = timeline.Points;
        var start = points.Count > 0 ? points[0].At : DateTimeOffset.UnixEpoch;
        var time = ReportAxes.Time(points);
        double X(TimelinePoint p) => time.Of(start, p.At);

        var multiplot = new Multiplot();
        multiplot.AddPlots(3);
        var (weight, success, latency) = (multiplot.GetPlot(0), multiplot.GetPlot(1), multiplot.GetPlot(2));

        weight.Title($"{timeline.Target} @ {timeline.Revision}: {timeline.Phase}  (started {start.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC)");
        weight.YLabel("canary weight %");
        if (points.Count > 0)
        {
            var line = weight.Add.ScatterLine(points.Select(X).ToArray(), points.Select(p => (double)p.Weight).ToArray(), Canary);
            line.ConnectStyle = ConnectStyle.StepHorizontal;
            line.LineWidth = 2;
            line.LegendText = "canary weight";
        }
        MarkChecks(weight, points, X, p => p.Verdict, p => p.Weight);
        weight.Axes.SetLimitsY(ReportAxes.Weight.Min, ReportAxes.Weight.Max);

        MetricPanel(success, points, X, "success rate %", p => p.SuccessRate, p => p.StableSuccessRate, p => p.SuccessRateMin, p => p.SuccessRateVerdict, "min", dashes);
        MetricPanel(latency, points, X, "P99 ms", p => p.P99Ms, p => p.StableP99Ms, p => p.P99MaxMs, p => p.P99Verdict, "max", dashes);
        latency.XLabel(time.Label);

        foreach (var plot in new[] { weight, success, latency })
        {
            plot.Axes.SetLimitsX(time.Min, time.Max);
            // Same margins everywhere, so the time axes line up; the legends sit in the right margin, off the data.
            plot.Layout.Fixed(new PixelPadding(80, 205, 45, plot == weight ? 48 : 10));
            if (plot.GetPlottables().Any(p => p.LegendItems.Any(i => !string.IsNullOrEmpty(i.LabelText))))
            {
                plot.ShowLegend(Edge.Right);
                plot.Legend.FontSize = 11;
            }
        }
        return multiplot;
    }

    private static void MetricPanel(Plot plot, IReadOnlyList<TimelinePoint> points, Func<TimelinePoint, double> x, string label,
        Func<TimelinePoint, double?> canary, Func<TimelinePoint, double?> stable, Func<TimelinePoint, double?> threshold,
        Func<TimelinePoint, string?> verdict, string bound, bool dashes)
    {
        plot.YLabel(label);
        // Later snapshots repeat the last check's values: only the points that carry a check are measurements.
        points = points.Where(p => p.Verdict is not null).ToList();
        Series(plot, points, x, canary, Canary, "canary", LinePattern.Solid);
        Series(plot, points, x, stable, Stable, "stable", dashes ? LinePattern.Dashed : LinePattern.Solid);
        var limit = points.Select(threshold).LastOrDefault(v => v is not null);
        if (limit is { } y)
        {
            var line = plot.Add.HorizontalLine(y, 1.5f, Threshold, dashes ? LinePattern.Dotted : LinePattern.Solid);
            line.LegendText = $"threshold: {bound} {Format(y)}";
        }
        MarkChecks(plot, points, x, verdict, canary);
        var axis = ReportAxes.Values(points.SelectMany(p => new[] { canary(p), stable(p) }).Append(limit), nonNegative: true);
        plot.Axes.SetLimitsY(axis.Min, axis.Max);
        if (!points.Any(p => canary(p) is not null || stable(p) is not null))
        {
            var note = plot.Add.Text("no measurements", 0, (axis.Min + axis.Max) / 2);
            note.LabelFontColor = Colors.Gray;
        }
    }

    private static void Series(Plot plot, IReadOnlyList<TimelinePoint> points, Func<TimelinePoint, double> x,
        Func<TimelinePoint, double?> y, Color color, string label, LinePattern pattern)
    {
        var measured = points.Where(p => y(p) is not null).ToList();
        if (measured.Count == 0) return;
        var s = plot.Add.Scatter(measured.Select(x).ToArray(), measured.Select(p => y(p)!.Value).ToArray(), color);
        s.LegendText = label;
        s.LinePattern = pattern;
        s.LineWidth = 2;
        s.MarkerSize = 0;
    }

    private static void MarkChecks(Plot plot, IReadOnlyList<TimelinePoint> points, Func<TimelinePoint, double> x,
        Func<TimelinePoint, string?> verdict, Func<TimelinePoint, double?> y)
    {
        foreach (var (name, color, shape, label) in Verdicts)
        {
            var marked = points.Where(p => verdict(p) == name && y(p) is not null).ToList();
            if (marked.Count == 0) continue;
            var m = plot.Add.Markers(marked.Select(x).ToArray(), marked.Select(p => y(p)!.Value).ToArray(), shape, 10, color);
            m.LegendText = label;
        }
    }

    private static string Format(double v) => v.ToString(Math.Abs(v) >= 100 ? "0" : "0.##", CultureInfo.InvariantCulture);
}

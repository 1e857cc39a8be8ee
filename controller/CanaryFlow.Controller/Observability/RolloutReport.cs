using ScottPlot;
using SkiaSharp;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// Draws a rollout's timeline as a PNG: canary weight with the verdicts marked, success rate and P99
/// latency of canary and stable, on one shared time axis (minutes since the start).
/// </summary>
public static class RolloutReport
{
    public const int Width = 900;
    public const int Height = 720;

    static RolloutReport()
    {
        // Without it ScottPlot picks a serif font; DejaVu ships with Debian's fonts-dejavu-core.
        Fonts.Default = "DejaVu Sans";
    }

    public static byte[] Png(RolloutTimeline timeline)
    {
        var multiplot = Draw(timeline);
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height));
        surface.Canvas.Clear(SKColors.White);
        multiplot.Render(surface.Canvas, new PixelRect(new PixelSize(Width, Height)));
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static Multiplot Draw(RolloutTimeline timeline)
    {
        var start = timeline.Points.Count > 0 ? timeline.Points[0].At : DateTimeOffset.UnixEpoch;
        double X(TimelinePoint p) => (p.At - start).TotalMinutes;
        var points = timeline.Points;

        var multiplot = new Multiplot();
        multiplot.AddPlots(3);
        var weight = multiplot.GetPlot(0);
        var success = multiplot.GetPlot(1);
        var latency = multiplot.GetPlot(2);

        weight.Title($"{timeline.Target} @ {timeline.Revision}: {timeline.Phase}");
        weight.YLabel("canary weight %");
        if (points.Count > 0)
        {
            var line = weight.Add.ScatterLine(points.Select(X).ToArray(), points.Select(p => (double)p.Weight).ToArray());
            line.ConnectStyle = ConnectStyle.StepHorizontal;
            line.LineWidth = 2;
            line.LegendText = "canary weight";
        }
        Mark(weight, points, X, "pass", Colors.Green, "check passed");
        Mark(weight, points, X, "fail", Colors.Red, "check failed");
        Mark(weight, points, X, "inconclusive", Colors.Orange, "inconclusive");
        weight.Axes.SetLimitsY(0, 105);

        success.YLabel("success rate %");
        Series(success, points, X, p => p.SuccessRate, Colors.Blue, "canary");
        Series(success, points, X, p => p.StableSuccessRate, Colors.Gray, "stable");

        latency.YLabel("P99 ms");
        latency.XLabel("minutes since start");
        Series(latency, points, X, p => p.P99Ms, Colors.Blue, "canary");
        Series(latency, points, X, p => p.StableP99Ms, Colors.Gray, "stable");

        // One time axis for all three panels, so that a verdict lines up with the values behind it.
        var end = points.Count > 0 ? Math.Max(X(points[^1]), 1) : 1;
        foreach (var plot in new[] { weight, success, latency })
        {
            plot.Axes.SetLimitsX(-end * 0.02, end * 1.02);
            plot.Layout.Fixed(new PixelPadding(80, 20, 45, plot == weight ? 48 : 10)); // same margins: the x axes line up
            if (plot.GetPlottables().Any()) plot.ShowLegend(Alignment.UpperLeft);
        }
        return multiplot;
    }

    private static void Series(Plot plot, IReadOnlyList<TimelinePoint> points, Func<TimelinePoint, double> x,
        Func<TimelinePoint, double?> y, Color color, string label)
    {
        var measured = points.Where(p => y(p) is not null).ToList();
        if (measured.Count == 0) return;
        var s = plot.Add.Scatter(measured.Select(x).ToArray(), measured.Select(p => y(p)!.Value).ToArray(), color);
        s.LegendText = label;
    }

    private static void Mark(Plot plot, IReadOnlyList<TimelinePoint> points, Func<TimelinePoint, double> x,
        string verdict, Color color, string label)
    {
        var marked = points.Where(p => p.Verdict == verdict).ToList();
        if (marked.Count == 0) return;
        var m = plot.Add.Markers(marked.Select(x).ToArray(), marked.Select(p => (double)p.Weight).ToArray(), MarkerShape.FilledCircle, 9, color);
        m.LegendText = label;
    }
}

using System.Globalization;
using ScottPlot;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>The load table (CSV from <see cref="LoadHarness"/>) as one PNG: three panels sharing a log-scale
/// x axis of Canaries — throughput, p99 analysis query → weight applied, controller CPU and RSS.</summary>
public static class LoadPlot
{
    public static int Run(string[] args)
    {
        var csv = args[Array.IndexOf(args, "--csv") + 1];
        var png = args[Array.IndexOf(args, "--png") + 1];
        var lines = File.ReadAllLines(csv);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList();
        double[] Column(string name) => rows.Select(r => double.Parse(r[Array.IndexOf(header, name)], CultureInfo.InvariantCulture)).ToArray();
        var x = Column("rollouts").Select(Math.Log10).ToArray();

        Fonts.Default = "DejaVu Sans"; // else ScottPlot picks a serif font
        var multiplot = new Multiplot();
        multiplot.AddPlots(3);
        Panel(multiplot.GetPlot(0), x, "transitions / s", (Column("transitions_per_s"), "transitions/s", Colors.Blue));
        multiplot.GetPlot(0).Title("CanaryFlow under load (controller process, RabbitMQ, sandbox API, real Prometheus)");
        Panel(multiplot.GetPlot(1), x, "ms", (Column("p99_query_to_weight_ms"), "p99 analysis query → weight in VS", Colors.Red),
            (Column("p50_query_to_weight_ms"), "p50", Colors.Orange));
        Panel(multiplot.GetPlot(2), x, "% of a core / MiB", (Column("controller_cpu_percent"), "controller CPU %", Colors.Green),
            (Column("controller_peak_rss_mib"), "controller peak RSS MiB", Colors.Purple));
        multiplot.GetPlot(2).XLabel("Canaries at once (log scale)");
        foreach (var i in Enumerable.Range(0, 3))
        {
            var plot = multiplot.GetPlot(i);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                Column("rollouts").Select(r => new Tick(Math.Log10(r), r.ToString(CultureInfo.InvariantCulture))).ToArray());
            plot.Layout.Fixed(new PixelPadding(80, 20, 45, i == 0 ? 48 : 10));
            plot.ShowLegend(Alignment.UpperLeft);
        }
        multiplot.SavePng(png, 900, 900);
        Console.WriteLine($"wrote {png}");
        return 0;
    }

    private static void Panel(Plot plot, double[] x, string yLabel, params (double[] Y, string Legend, Color Color)[] series)
    {
        plot.YLabel(yLabel);
        foreach (var (y, legend, color) in series)
        {
            var s = plot.Add.Scatter(x, y);
            s.LegendText = legend;
            s.Color = color;
            s.LineWidth = 2;
            s.MarkerSize = 8;
        }
    }
}

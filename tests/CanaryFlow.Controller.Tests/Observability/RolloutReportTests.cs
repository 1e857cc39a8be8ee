using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;
using CanaryFlow.Controller.Web;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Observability;

/// <summary>The report's pictures: axes that fit the data, thresholds, stable beside canary, verdicts, SVG beside PNG.</summary>
public sealed class RolloutReportTests
{
    private static readonly RolloutTarget Target = new("shop", "cart");
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A rollout whose checks compare canary with stable against thresholds; the last check fails on latency.</summary>
    internal static IReadOnlyList<RolloutTransitioned> TenSecondRollout()
    {
        AnalysisEvidence Check(double success, double p99, string latencyOutcome) => new($"check {success}/{p99}",
        [
            new MetricResult(RolloutTimeline.SuccessRateMetric, success, 99, null, "pass", Baseline: 99.7),
            new MetricResult(RolloutTimeline.DurationMetric, p99, null, 500, latencyOutcome, Baseline: 115),
        ]);
        return
        [
            At(1, RolloutPhases.Progressing, 10, 0, null),
            At(2, RolloutPhases.Progressing, 30, 2.5, Check(99.6, 121, "pass")),
            At(3, RolloutPhases.Progressing, 60, 5, Check(99.5, 180, "pass")),
            At(4, RolloutPhases.RollingBack, 60, 7.5, Check(99.4, 640, "fail")),
            At(5, RolloutPhases.Failed, 0, 10, Check(99.4, 640, "fail")),
        ];
    }

    private static RolloutTransitioned At(long version, string phase, int weight, double seconds, AnalysisEvidence? evidence) => new(
        RolloutIds.ForTarget(Target), RolloutIds.ForRevision(Target, "v2"), Target, "v2", "v1", "x", phase, weight, weight, 0, 3, 0, 0,
        "why", evidence, version, T0.AddSeconds(seconds));

    [Fact]
    public void A_ten_second_rollout_is_drawn_in_seconds_with_room_on_both_sides()
    {
        var time = ReportAxes.Time(RolloutTimeline.From(TenSecondRollout())!.Points);
        Assert.Equal("seconds", time.Unit);
        Assert.InRange(time.Min, -1, -0.01);
        Assert.InRange(time.Max, 10.01, 11);
        Assert.Equal("minutes", ReportAxes.Time([Point(T0), Point(T0.AddMinutes(30))]).Unit);
        Assert.Equal("hours", ReportAxes.Time([Point(T0), Point(T0.AddHours(5))]).Unit);
    }

    [Fact]
    public void A_flat_series_gets_a_readable_range_instead_of_a_degenerate_one()
    {
        var axis = ReportAxes.Values([0.495, 0.495, null], nonNegative: true);
        Assert.True(axis.Min < 0.495 && axis.Max > 0.495, $"{axis} does not contain 0.495 with room");
        Assert.True(axis.Max - axis.Min >= 0.009, $"{axis} is too narrow to read");
        Assert.Equal(new ValueAxis(0, 1), ReportAxes.Values([null], nonNegative: true));
        Assert.Equal(0, ReportAxes.Values([0.0, 0.0], nonNegative: true).Min); // latency cannot be negative
    }

    [Fact]
    public void Value_axes_hold_canary_stable_and_the_threshold_with_padding()
    {
        var points = RolloutTimeline.From(TenSecondRollout())!.Points;
        var success = ReportAxes.Values(points.SelectMany(p => new[] { p.SuccessRate, p.StableSuccessRate, p.SuccessRateMin }), nonNegative: true);
        Assert.True(success.Min < 99 && success.Max > 99.7, $"{success} does not hold 99 (threshold) to 99.7 (stable) with room");
        Assert.True(success.Max < 99.9, $"{success} wastes the panel on empty space");
        Assert.Equal(99, points[^1].SuccessRateMin);
        Assert.Equal(500, points[^1].P99MaxMs);
        Assert.Equal([null, "pass", "pass", "fail", null], points.Select(p => p.P99Verdict));
        Assert.Equal([null, "pass", "pass", "pass", null], points.Select(p => p.SuccessRateVerdict));
    }

    [Fact]
    public void Stable_comes_from_a_statistical_comparison_when_the_threshold_check_has_none()
    {
        var evidence = new AnalysisEvidence("compared",
        [
            new MetricResult(RolloutTimeline.SuccessRateMetric, 99.1, 99, null, "pass"),
            new MetricResult(RolloutTimeline.SuccessRateMetric + ":comparison", 99.1, null, null, "pass", Baseline: 99.8),
            new MetricResult(RolloutTimeline.DurationMetric + ":comparison", 300, null, null, "high", Baseline: 120),
        ]);
        var point = RolloutTimeline.From([At(1, RolloutPhases.Progressing, 10, 0, evidence)])!.Points.Single();
        Assert.Equal(99.8, point.StableSuccessRate);
        Assert.Equal(300, point.P99Ms);
        Assert.Equal(120, point.StableP99Ms);
        Assert.Equal("fail", point.P99Verdict);
    }

    [Fact]
    public async Task A_finished_rollout_gets_a_png_and_beside_it_an_svg_with_thresholds_stable_and_verdicts()
    {
        var folder = Directory.CreateTempSubdirectory("canaryflow-report-").FullName;
        var history = new RolloutHistory();
        var rollout = TenSecondRollout();
        foreach (var t in rollout.SkipLast(1)) history.Add(t);
        var writer = new RolloutReportWriter(Options.Create(new ObservabilityOptions { ReportsDirectory = folder }), history, NullLogger<RolloutReportWriter>.Instance);

        var png = await writer.OnTransitionAsync(rollout[^1], CancellationToken.None);

        Assert.NotNull(png);
        var svgPath = Path.ChangeExtension(png, ".svg");
        Assert.True(File.Exists(svgPath), $"no SVG beside {png}");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png).Take(4));
        var svg = File.ReadAllText(svgPath);
        Assert.StartsWith("<?xml", svg);
        Assert.EndsWith("</svg>", svg.TrimEnd());
        foreach (var text in new[] { "threshold: min 99", "threshold: max 500", "stable", "canary", "check passed", "check failed", "seconds since start" })
            Assert.Contains(text, Texts(svg));
        Assert.Contains($"\"{RolloutReport.ThresholdHex}\"", svg); // the threshold lines' colour
    }

    [Fact]
    public async Task Reports_of_rollouts_that_end_together_are_drawn_one_after_another()
    {
        var folder = Directory.CreateTempSubdirectory("canaryflow-report-").FullName;
        var history = new RolloutHistory();
        var writer = new RolloutReportWriter(Options.Create(new ObservabilityOptions { ReportsDirectory = folder }), history, NullLogger<RolloutReportWriter>.Instance);
        var first = TenSecondRollout();
        var other = new RolloutTarget("shop", "basket");
        var second = first.Select(t => t with { CorrelationId = RolloutIds.ForTarget(other), Target = other, RolloutId = RolloutIds.ForRevision(other, "v2") }).ToList();
        foreach (var t in first.SkipLast(1).Concat(second.SkipLast(1))) history.Add(t);
        var drawing = new List<RolloutTarget>();
        using var firstStarted = new SemaphoreSlim(0);
        using var secondStarted = new SemaphoreSlim(0);
        var releaseFirst = new TaskCompletionSource();
        writer.Drawing = t =>
        {
            lock (drawing) drawing.Add(t.Target);
            if (t.Target == Target) { firstStarted.Release(); releaseFirst.Task.Wait(TimeSpan.FromSeconds(60)); } // bounded: a failed assertion below must not leave a thread waiting forever
            else secondStarted.Release();
        };

        var a = Task.Run(() => writer.OnTransitionAsync(first[^1], CancellationToken.None));
        Assert.True(await firstStarted.WaitAsync(TimeSpan.FromSeconds(30)), "the first report was never drawn");
        var b = Task.Run(() => writer.OnTransitionAsync(second[^1], CancellationToken.None));
        // While the first is being drawn, the second waits its turn (it was drawn at once when each consumer drew on its own).
        Assert.False(await secondStarted.WaitAsync(TimeSpan.FromSeconds(2)), "the second report was drawn while the first was");
        releaseFirst.SetResult();
        var paths = await Task.WhenAll(a, b);

        Assert.Equal([Target, other], drawing);
        Assert.All(paths, p => Assert.True(File.Exists(p) && File.Exists(Path.ChangeExtension(p, ".svg")), $"no PNG and SVG for {p}"));
    }

    // SVG text elements hold their words between tags; joined, they read like the picture's labels.
    private static string Texts(string svg) =>
        string.Join(" ", System.Text.RegularExpressions.Regex.Matches(svg, "<text[^>]*>([^<]*)</text>").Select(m => m.Groups[1].Value));

    private static TimelinePoint Point(DateTimeOffset at) => new(at, RolloutPhases.Progressing, 10, null, null, null, null, null, "");
}

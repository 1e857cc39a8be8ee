using System.Net;
using System.Net.Http.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;

namespace CanaryFlow.Controller.Tests.Observability;

public sealed class StatusEndpointsTests
{
    private static readonly RolloutTarget Checkout = new("shop", "checkout");

    /// <summary>The timeline once it shows the finished phase: it is fed by the transitions' observer, which may be a
    /// moment behind the stored state the status API reads (bounded wait).</summary>
    private static async Task<RolloutTimeline> FinishedTimeline(ObservedController c, string phase)
    {
        RolloutTimeline? timeline = null;
        for (var i = 0; i < 500 && timeline?.Phase != phase; i++)
        {
            if (i > 0) await Task.Delay(20);
            timeline = await c.Http.GetFromJsonAsync<RolloutTimeline>("/api/rollouts/shop/checkout/timeline");
        }
        Assert.NotNull(timeline);
        Assert.Equal(phase, timeline.Phase);
        return timeline;
    }

    [Fact]
    public async Task The_status_page_is_served_at_the_root_as_self_contained_html()
    {
        await using var c = await ObservedController.StartAsync();
        using var response = await c.Http.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/html", response.Content.Headers.ContentType?.ToString());
        Assert.Contains("EventSource(\"/api/rollouts/events\")", html);
        Assert.DoesNotContain("<script src=", html); // nothing fetched from elsewhere at run time
    }

    [Fact]
    public async Task A_healthy_rollout_timeline_has_each_weight_both_versions_measurements_and_passed_verdicts()
    {
        await using var c = await ObservedController.StartAsync();
        await c.Request(Checkout, "v2", 10, 50, 100);
        var done = await c.RunToEnd(Checkout);
        Assert.Equal("Succeeded", done.Phase);

        var timeline = await FinishedTimeline(c, "Succeeded");
        var weights = timeline.Points.Select(p => p.Weight).Distinct().ToList();
        Assert.Contains(10, weights);
        Assert.Contains(50, weights);
        Assert.Contains(100, weights);
        Assert.Contains(timeline.Points, p => p.Verdict == "pass" && p.SuccessRate == 99.6 && p.StableSuccessRate == 99.7 && p.StableP99Ms == 115);
        Assert.DoesNotContain(timeline.Points, p => p.Verdict == "fail");
    }

    [Fact]
    public async Task A_faulty_release_is_marked_failed_and_its_png_report_is_written_and_served()
    {
        await using var c = await ObservedController.StartAsync();
        c.World[Checkout].FailFromWeight = 50;
        await c.Request(Checkout, "v3", 10, 50, 100);
        var done = await c.RunToEnd(Checkout);
        Assert.Equal("Failed", done.Phase);

        var timeline = await FinishedTimeline(c, "Failed");
        Assert.Contains(timeline.Points, p => p.Verdict == "fail" && p.Weight == 50 && p.P99Ms == 840);

        var file = Path.Combine(c.ReportsDirectory, "shop_checkout_v3_failed.png");
        for (var i = 0; i < 500 && !File.Exists(file); i++) await Task.Delay(10);
        Assert.True(File.Exists(file), $"no report in {c.ReportsDirectory}: {string.Join(", ", Directory.Exists(c.ReportsDirectory) ? Directory.GetFiles(c.ReportsDirectory) : [])}");
        AssertPng(await File.ReadAllBytesAsync(file));

        using var served = await c.Http.GetAsync("/api/rollouts/shop/checkout/report.png");
        Assert.Equal("image/png", served.Content.Headers.ContentType?.MediaType);
        AssertPng(await served.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/api/rollouts/Shop/checkout/timeline")]
    [InlineData("/api/rollouts/shop/check_out/report.png")]
    [InlineData("/api/rollouts/shop/-checkout/timeline")]
    public async Task Names_that_are_not_kubernetes_names_get_400(string url)
    {
        await using var c = await ObservedController.StartAsync();
        using var response = await c.Http.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task A_target_without_history_gets_404()
    {
        await using var c = await ObservedController.StartAsync();
        using var response = await c.Http.GetAsync("/api/rollouts/shop/unknown/report.png");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task The_live_stream_reports_each_weight_change()
    {
        await using var c = await ObservedController.StartAsync();
        using var stream = await c.Http.GetStreamAsync("/api/rollouts/events");
        using var reader = new StreamReader(stream);
        await c.Request(Checkout, "v2", 10, 50, 100);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var seen = new List<string>();
        while (!seen.Any(l => l.Contains("\"canaryWeight\":10")))
        {
            var line = await reader.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("stream ended");
            if (line.StartsWith("data: ")) seen.Add(line);
        }
        await c.Tick();
        while (!seen.Any(l => l.Contains("\"canaryWeight\":50")))
        {
            var line = await reader.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("stream ended");
            if (line.StartsWith("data: ")) seen.Add(line);
        }
        Assert.All(seen, l => Assert.Contains("\"name\":\"checkout\"", l));
    }

    [Fact]
    public async Task Metrics_show_rollouts_by_phase_weights_checks_and_durations()
    {
        await using var c = await ObservedController.StartAsync();
        await c.Request(Checkout, "v2", 10, 50, 100);
        await c.RunToEnd(Checkout);

        // One scrape writes the weights before it exports the phase gauge, so a scrape taken while the last transition is
        // recorded can show Succeeded with the weight before it: wait until both have it (seen once in CI).
        string text = "";
        for (var i = 0; i < 500 && !(text.Contains("canaryflow_rollouts{phase=\"Succeeded\"} 1")
                 && text.Contains("canaryflow_canary_weight_percent{namespace=\"shop\",target=\"checkout\"} 0")); i++)
        {
            text = await c.Http.GetStringAsync("/metrics");
            await Task.Delay(10);
        }
        Assert.Contains("canaryflow_rollouts{phase=\"Succeeded\"} 1", text);
        Assert.Contains("canaryflow_rollouts{phase=\"Progressing\"} 0", text);
        Assert.Contains("canaryflow_analysis_checks_total{namespace=\"shop\",target=\"checkout\",result=\"passed\"} 3", text);
        Assert.Contains("canaryflow_canary_weight_percent{namespace=\"shop\",target=\"checkout\"} 0", text);
        // The histograms are by namespace (issue 15: per-target histograms are 26 series a Canary).
        Assert.Contains("canaryflow_rollout_duration_seconds_count{namespace=\"shop\",outcome=\"succeeded\"} 1", text);
        Assert.Contains("canaryflow_step_duration_seconds_count{namespace=\"shop\"} 3", text);
        Assert.DoesNotContain("_duration_seconds_count{namespace=\"shop\",target=", text);
    }

    [Fact]
    public async Task Healthz_answers_and_readyz_reports_the_started_bus()
    {
        await using var c = await ObservedController.StartAsync();
        using var live = await c.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        HttpResponseMessage? ready = null;
        for (var i = 0; i < 500; i++)
        {
            ready?.Dispose();
            ready = await c.Http.GetAsync("/readyz");
            if (ready.StatusCode == HttpStatusCode.OK) break;
            await Task.Delay(10);
        }
        Assert.Equal(HttpStatusCode.OK, ready!.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
        ready.Dispose();
    }

    private static void AssertPng(byte[] bytes)
    {
        Assert.True(bytes.Length > 5000, $"PNG of {bytes.Length} bytes is too small to hold a chart");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }
}

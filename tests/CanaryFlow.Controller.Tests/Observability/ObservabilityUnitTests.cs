using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Prometheus;

namespace CanaryFlow.Controller.Tests.Observability;

public sealed class ObservabilityUnitTests
{
    private static readonly RolloutTarget Target = new("shop", "cart");
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static RolloutTransitioned At(long version, string phase, int weight, int minutes) => new(
        RolloutIds.ForTarget(Target), RolloutIds.ForRevision(Target, "v2"), Target, "v2", "v1", "x", phase, weight, weight, 0, 3, 0, 0,
        "why", null, version, T0.AddMinutes(minutes));

    /// <summary>What /metrics serves (the registry and the families written at scrape time), in the text format.</summary>
    internal static string Exposition(CanaryFlowMetrics metrics, ExpositionFormat format = ExpositionFormat.PrometheusText)
    {
        using var stream = new MemoryStream();
        metrics.ExportAsync(stream, format).GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static double Value(CanaryFlowMetrics metrics, string line)
    {
        var text = Exposition(metrics);
        var found = text.Split('\n').FirstOrDefault(l => l.StartsWith(line + " "));
        return found is null ? double.NaN : double.Parse(found[(line.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Step_and_rollout_durations_come_from_the_transition_times_and_a_redelivery_counts_once()
    {
        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        var recorder = new RolloutMetricsRecorder(metrics);
        recorder.Record(At(1, "Progressing", 10, 0));
        recorder.Record(At(2, "Progressing", 50, 2));
        recorder.Record(At(2, "Progressing", 50, 2)); // redelivered
        recorder.Record(At(3, "Succeeded", 0, 5));

        Assert.Equal(2, Value(metrics, "canaryflow_step_duration_seconds_count{namespace=\"shop\"}"));
        Assert.Equal(120 + 180, Value(metrics, "canaryflow_step_duration_seconds_sum{namespace=\"shop\"}"));
        Assert.Equal(300, Value(metrics, "canaryflow_rollout_duration_seconds_sum{namespace=\"shop\",outcome=\"succeeded\"}"));
        Assert.Equal(1, Value(metrics, "canaryflow_rollouts{phase=\"Succeeded\"}"));
        Assert.Equal(0, Value(metrics, "canaryflow_rollouts{phase=\"Progressing\"}"));
        Assert.Equal(0, Value(metrics, "canaryflow_canary_weight_percent{namespace=\"shop\",target=\"cart\"}"));
    }

    [Fact]
    public void Rollouts_by_phase_follow_each_target_across_phases_and_new_rollouts()
    {
        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        var recorder = new RolloutMetricsRecorder(metrics);
        RolloutTransitioned Of(string name, string revision, long version, string phase) => At(version, phase, 10, (int)version) with
        {
            CorrelationId = RolloutIds.ForTarget(new RolloutTarget("shop", name)), Target = new RolloutTarget("shop", name),
            RolloutId = RolloutIds.ForRevision(new RolloutTarget("shop", name), revision), Revision = revision,
        };
        recorder.Record(Of("a", "v2", 1, "Progressing"));
        recorder.Record(Of("b", "v2", 1, "Progressing"));
        recorder.Record(Of("c", "v2", 1, "Progressing"));
        recorder.Record(Of("a", "v2", 2, "Succeeded"));
        recorder.Record(Of("b", "v2", 2, "Failed"));
        recorder.Record(Of("b", "v2", 2, "Failed")); // redelivered: counted once
        recorder.Record(Of("a", "v3", 1, "Progressing")); // the next release of a leaves Succeeded

        Assert.Equal(2, Value(metrics, "canaryflow_rollouts{phase=\"Progressing\"}"));
        Assert.Equal(0, Value(metrics, "canaryflow_rollouts{phase=\"Succeeded\"}"));
        Assert.Equal(1, Value(metrics, "canaryflow_rollouts{phase=\"Failed\"}"));
    }

    [Fact]
    public void A_phase_change_costs_the_same_with_ten_thousand_targets_as_with_ten()
    {
        static long AllocatedByOnePhaseChange(int targets)
        {
            var recorder = new RolloutMetricsRecorder(new CanaryFlowMetrics(Metrics.NewCustomRegistry()));
            RolloutTransitioned Of(int i, long version, string phase) => At(version, phase, 10, 0) with
            {
                CorrelationId = RolloutIds.ForTarget(new RolloutTarget("shop", $"s{i}")), Target = new RolloutTarget("shop", $"s{i}"),
            };
            for (var i = 0; i < targets; i++) recorder.Record(Of(i, 1, "Progressing"));
            recorder.Record(Of(0, 2, "Promoting")); // the labels' children exist now
            var last = Of(1, 2, "Promoting");
            var before = GC.GetAllocatedBytesForCurrentThread();
            recorder.Record(last);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        var few = AllocatedByOnePhaseChange(10);
        var many = AllocatedByOnePhaseChange(10_000);
        // Counting the phases again over every target allocated a grouping of them: over 100 KB at 10,000.
        Assert.True(many < few + 4096, $"a phase change allocated {many} B with 10,000 targets, {few} B with 10");
    }

    [Fact]
    public void A_deleted_Canarys_series_leave_the_metrics_and_its_rollout_is_no_longer_counted_by_phase()
    {
        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        var recorder = new RolloutMetricsRecorder(metrics);
        RolloutTransitioned Of(string name, long version, string phase, int weight) => At(version, phase, weight, (int)version) with
        {
            CorrelationId = RolloutIds.ForTarget(new RolloutTarget("shop", name)), Target = new RolloutTarget("shop", name),
        };
        foreach (var name in new[] { "cart", "basket" })
        {
            recorder.Record(Of(name, 1, "Progressing", 10));
            recorder.RecordCheck(RolloutIds.ForTarget(new RolloutTarget("shop", name)), VerdictKind.Failed);
            recorder.Record(Of(name, 2, "Failed", 0));
        }
        Assert.Contains("target=\"cart\"", Exposition(metrics));

        recorder.Forget(RolloutIds.ForTarget(new RolloutTarget("shop", "cart")));
        recorder.Forget(RolloutIds.ForTarget(new RolloutTarget("shop", "cart"))); // redelivered: nothing more

        var text = Exposition(metrics);
        Assert.DoesNotContain("target=\"cart\"", text);
        // The other target's checks and weight stay; one failed rollout is counted; what was observed of the deleted
        // Canary's rollout stays in the namespace's histogram.
        string[] lines =
        [
            "canaryflow_analysis_checks_total{namespace=\"shop\",target=\"basket\",result=\"failed\"}",
            "canaryflow_canary_weight_percent{namespace=\"shop\",target=\"basket\"}",
            "canaryflow_rollouts{phase=\"Failed\"}",
            "canaryflow_rollout_duration_seconds_count{namespace=\"shop\",outcome=\"failed\"}",
        ];
        Assert.Equal([1, 0, 1, 2], lines.Select(l => Value(metrics, l)));
    }

    [Fact]
    public void Per_target_families_are_served_in_openmetrics_before_its_single_end_marker()
    {
        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        var recorder = new RolloutMetricsRecorder(metrics);
        recorder.Record(At(1, "Progressing", 10, 0));
        recorder.RecordCheck(RolloutIds.ForTarget(Target), VerdictKind.Passed);
        recorder.RecordCheck(Guid.NewGuid(), VerdictKind.NoData); // a target not seen yet

        var lines = Exposition(metrics, ExpositionFormat.OpenMetricsText).TrimEnd('\n').Split('\n');
        Assert.Equal("# EOF", lines[^1]);
        Assert.Single(lines, l => l == "# EOF");
        Assert.Contains("# TYPE canaryflow_analysis_checks counter", lines); // OpenMetrics names a counter's family without _total
        Assert.Contains("canaryflow_analysis_checks_total{namespace=\"shop\",target=\"cart\",result=\"passed\"} 1.0", lines);
        Assert.Contains("canaryflow_analysis_checks_total{namespace=\"unknown\",target=\"unknown\",result=\"nodata\"} 1.0", lines);
        Assert.Contains("canaryflow_canary_weight_percent{namespace=\"shop\",target=\"cart\"} 10.0", lines);
        var text = Exposition(metrics);
        Assert.Contains("# TYPE canaryflow_analysis_checks_total counter", text);
        Assert.Contains("canaryflow_canary_weight_percent{namespace=\"shop\",target=\"cart\"} 10\n", text);
        Assert.DoesNotContain("# EOF", text);
    }

    [Fact]
    public void Webhook_notification_and_consumer_error_outcomes_are_counted_with_bounded_labels()
    {
        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        metrics.RecordWebhook("harbor", "accepted");
        metrics.RecordNotification("slack", "failed");
        metrics.RecordNotification(new string('x', 500), "sent");
        new ConsumerErrorObserver(metrics).ConsumeFault<AbortRollout>(null!, new Exception("boom"));

        Assert.Equal(1, Value(metrics, "canaryflow_webhook_requests_total{source=\"harbor\",outcome=\"accepted\"}"));
        Assert.Equal(1, Value(metrics, "canaryflow_notifications_total{channel=\"slack\",outcome=\"failed\"}"));
        Assert.Equal(1, Value(metrics, $"canaryflow_notifications_total{{channel=\"{new string('x', 64)}\",outcome=\"sent\"}}"));
        Assert.Equal(1, Value(metrics, "canaryflow_bus_consumer_errors_total{message_type=\"AbortRollout\"}"));
    }

    [Fact]
    public void The_log_scope_names_the_rollout_of_facts_and_the_target_of_commands()
    {
        var passed = new AnalysisPassed(Guid.NewGuid(), Guid.NewGuid(), 3, new AnalysisEvidence("ok", []), T0);
        var scope = RolloutLogScopeFilter<AnalysisPassed>.ScopeFor(passed);
        Assert.Equal(passed.RolloutId, scope["RolloutId"]);
        Assert.Equal(passed.CorrelationId, scope["CorrelationId"]);

        var abort = new AbortRollout(RolloutIds.ForTarget(Target), Target, "user:alice", "bad");
        var commandScope = RolloutLogScopeFilter<AbortRollout>.ScopeFor(abort);
        Assert.Equal("shop/cart", commandScope["Target"]);
        Assert.Equal(abort.CorrelationId, commandScope["CorrelationId"]);
        Assert.False(commandScope.ContainsKey("RolloutId"));
    }

    [Fact]
    public void A_new_check_is_marked_once_and_a_failed_metric_makes_a_fail_verdict()
    {
        var ok = new AnalysisEvidence("ok", [new MetricResult("request-success-rate", 99.9, 99, null, "pass", 99.8)]);
        var bad = new AnalysisEvidence("bad", [new MetricResult("request-duration", 900, null, 500, "fail", 100)]);
        var history = new[]
        {
            At(1, "Progressing", 10, 0) with { LastAnalysis = null },
            At(2, "Progressing", 20, 1) with { LastAnalysis = ok },
            At(3, "Progressing", 20, 1) with { LastAnalysis = ok }, // the same evidence repeated by a later snapshot
            At(4, "RollingBack", 20, 2) with { LastAnalysis = bad },
        };
        var timeline = RolloutTimeline.From(history)!;

        Assert.Equal([null, "pass", null, "fail"], timeline.Points.Select(p => p.Verdict));
        Assert.Equal(99.9, timeline.Points[1].SuccessRate);
        Assert.Equal(99.8, timeline.Points[1].StableSuccessRate);
        Assert.Equal(900, timeline.Points[3].P99Ms);
    }

    [Fact]
    public void Json_logging_is_chosen_by_configuration_and_an_unknown_format_is_refused()
    {
        var json = Host.CreateApplicationBuilder();
        json.Configuration["Logging:Format"] = "json";
        json.AddCanaryFlowObservability();
        using (var provider = json.Services.BuildServiceProvider())
            Assert.Equal(ConsoleFormatterNames.Json, provider.GetRequiredService<IOptions<ConsoleLoggerOptions>>().Value.FormatterName);

        var wrong = Host.CreateApplicationBuilder();
        wrong.Configuration["Logging:Format"] = "xml";
        var error = Assert.Throws<InvalidOperationException>(() => wrong.AddCanaryFlowObservability());
        Assert.Contains("Logging:Format", error.Message);
    }

    [Fact]
    public void An_otlp_endpoint_that_is_not_an_http_url_fails_validation()
    {
        var options = new ObservabilityOptions { OtlpEndpoint = "collector:4317" };
        var results = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();
        Assert.Contains(results, r => r.ErrorMessage!.Contains("OtlpEndpoint"));
        Assert.Empty(new ObservabilityOptions { OtlpEndpoint = "http://collector:4317" }.Validate(new(options)));
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Web;
using CanaryFlow.Sandbox.Workloads;
using MassTransit;
using MassTransit.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Rollouts;

namespace CanaryFlow.Controller.Tests.Web;

/// <summary>
/// The receiver on a real Kestrel (127.0.0.1, free port) with MassTransit's test harness watching what is published,
/// and the embedded rollout store holding rollouts in several phases.
/// </summary>
public sealed class AlertmanagerReceiverTests : IAsyncLifetime
{
    private const string Token = "test-token-0123456789abcdef";
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private ITestHarness _harness = null!;

    public async Task InitializeAsync()
    {
        var builder = LoopbackApp.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Alertmanager:BearerToken"] = Token,
            ["Alertmanager:MaxBodyBytes"] = "4096",
        });
        builder.Services.AddCanaryFlowAlertmanager(builder.Configuration);
        var store = new FileRolloutStore(Options.Create(new RolloutEngineOptions { StateDirectory = Directory.CreateTempSubdirectory("canaryflow-alerts-").FullName }));
        foreach (var (target, phase) in Rollouts) await store.SaveAsync(Rollout(target, phase), 0, CancellationToken.None);
        builder.Services.AddSingleton<IRolloutStore>(store);
        builder.Services.AddMassTransitTestHarness(o => o.SetTestTimeouts(testInactivityTimeout: TimeSpan.FromMilliseconds(500)));
        _app = builder.Build();
        _app.MapAlertmanagerReceiver();
        await _app.StartAsync();
        _harness = _app.Services.GetRequiredService<ITestHarness>(); // the bus was started with the host
        _http = new HttpClient { BaseAddress = LoopbackApp.AddressOf(_app) };
    }

    /// <summary>Rollouts in the store: running ones (any phase the saga aborts in) and finished ones.</summary>
    private static readonly (string Target, string Phase)[] Rollouts =
    [
        ("shop/podinfo", RolloutPhases.Progressing), ("payments/api", RolloutPhases.WaitingApproval), ("front/web", RolloutPhases.Paused),
        ("shop/cart", RolloutPhases.Progressing), ("shop/done", RolloutPhases.Succeeded), ("shop/failed", RolloutPhases.Failed),
    ];

    private static RolloutState Rollout(string target, string phase)
    {
        var t = RolloutTarget.TryParse(target)!;
        return new RolloutState { CorrelationId = RolloutIds.ForTarget(t), Target = t, CurrentState = phase, Plan = TestPlans.TenToHundred, Version = 1 };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private Task<HttpResponseMessage> PostAsync(string body, string? token = Token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/alertmanager") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return _http.SendAsync(request);
    }

    private static string Payload(params string[] alerts) =>
        $$"""{"version":"4","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing","receiver":"canaryflow","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093","alerts":[{{string.Join(",", alerts)}}]}""";

    private static string Alert(string status, string labels) =>
        $$"""{"status":"{{status}}","labels":{{{labels}}},"annotations":{"summary":"5xx above 5%"},"startsAt":"2026-11-25T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"abc"}""";

    private async Task<List<AbortRollout>> PublishedAbortsAsync() =>
        (await _harness.Published.SelectAsync<AbortRollout>().ToListAsync()).Select(m => m.Context.Message).ToList();

    [Fact]
    public async Task A_firing_alert_naming_the_canary_workload_aborts_that_rollout_only()
    {
        var response = await PostAsync(Payload(
            Alert("firing", "\"alertname\":\"HighErrorRate\",\"destination_workload\":\"podinfo\",\"destination_workload_namespace\":\"shop\""),
            Alert("firing", "\"alertname\":\"HighErrorRate\",\"destination_workload\":\"cart-primary\",\"destination_workload_namespace\":\"shop\""),
            Alert("resolved", "\"alertname\":\"HighErrorRate\",\"destination_workload\":\"search\",\"destination_workload_namespace\":\"shop\"")));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var answer = await AnswerAsync(response);
        Assert.Equal(["shop/podinfo"], answer.Aborted);
        Assert.Equal([("HighErrorRate", null, "no matching target: shop/cart-primary is a stable or baseline copy, not a canary"),
                      ("HighErrorRate", "shop/search", "resolved")], answer.Ignored);
        var abort = Assert.Single(await PublishedAbortsAsync());
        var target = new RolloutTarget("shop", "podinfo");
        Assert.Equal(target, abort.Target);
        Assert.Equal(RolloutIds.ForTarget(target), abort.CorrelationId);
        Assert.Equal("alertmanager:HighErrorRate", abort.Actor);
        Assert.Contains("5xx above 5%", abort.Reason);
    }

    [Fact]
    public async Task A_canary_label_names_the_rollout_directly()
    {
        var response = await PostAsync(Payload(Alert("firing", "\"alertname\":\"Latency\",\"canary\":\"payments/api\"")));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var abort = Assert.Single(await PublishedAbortsAsync());
        Assert.Equal(new RolloutTarget("payments", "api"), abort.Target);
        Assert.Equal("alertmanager:Latency", abort.Actor);
    }

    [Fact]
    public async Task Workload_and_namespace_labels_also_match_and_duplicates_abort_once()
    {
        var response = await PostAsync(Payload(
            Alert("firing", "\"alertname\":\"A\",\"deployment\":\"web\",\"namespace\":\"front\""),
            Alert("firing", "\"alertname\":\"B\",\"workload\":\"web\",\"namespace\":\"front\"")));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var abort = Assert.Single(await PublishedAbortsAsync());
        Assert.Equal("alertmanager:A", abort.Actor);
    }

    [Fact]
    public async Task Only_running_rollouts_are_aborted_and_every_other_alert_is_named_with_its_reason()
    {
        var response = await PostAsync(Payload(
            Alert("firing", "\"alertname\":\"Errors\",\"canary\":\"shop/cart\""),
            Alert("firing", "\"alertname\":\"Errors\",\"canary\":\"shop/unknown\""),
            Alert("firing", "\"alertname\":\"Errors\",\"canary\":\"shop/done\""),
            Alert("firing", "\"alertname\":\"Errors\",\"canary\":\"shop/failed\""),
            Alert("firing", "\"alertname\":\"Latency\",\"canary\":\"shop/cart\""),
            Alert("firing", "\"alertname\":\"DiskFull\",\"instance\":\"node-1\""),
            Alert("firing", "\"alertname\":\"Odd\",\"canary\":\"no-slash\"")));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var answer = await AnswerAsync(response);
        Assert.Equal(["shop/cart"], answer.Aborted);
        Assert.Equal([
            ("Errors", "shop/unknown", "no rollout for this target"),
            ("Errors", "shop/done", "rollout is Succeeded, not running"),
            ("Errors", "shop/failed", "rollout is Failed, not running"),
            ("Latency", "shop/cart", "rollout already aborted by alert Errors"),
            ("DiskFull", null, "no matching target: no canary label, nor workload and namespace labels"),
            ("Odd", null, "canary label \"no-slash\" is not namespace/name"),
        ], answer.Ignored);
        var abort = Assert.Single(await PublishedAbortsAsync());
        Assert.Equal(new RolloutTarget("shop", "cart"), abort.Target);
    }

    private sealed record Answer(string[] Aborted, (string Alert, string? Target, string Reason)[] Ignored);

    private static async Task<Answer> AnswerAsync(HttpResponseMessage response)
    {
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        return new Answer(
            [.. root.GetProperty("aborted").EnumerateArray().Select(e => e.GetString()!)],
            [.. root.GetProperty("ignored").EnumerateArray().Select(e => (e.GetProperty("alert").GetString()!,
                e.GetProperty("target").GetString(), e.GetProperty("reason").GetString()!))]);
    }

    [Fact]
    public async Task Resolved_alerts_publish_nothing()
    {
        var response = await PostAsync(Payload(Alert("resolved", "\"alertname\":\"A\",\"canary\":\"shop/podinfo\"")));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Empty(await PublishedAbortsAsync());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token-0123456789abcdef")]
    public async Task Without_the_bearer_token_it_is_401_and_nothing_is_published(string? token)
    {
        var response = await PostAsync(Payload(Alert("firing", "\"alertname\":\"A\",\"canary\":\"shop/podinfo\"")), token);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(await PublishedAbortsAsync());
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("null")]
    [InlineData("""{"version":"3","alerts":[]}""")]
    [InlineData("""{"version":"4"}""")]
    [InlineData("""{"version":"4","alerts":[{"status":"firing"}]}""")]
    [InlineData("""{"version":"4","alerts":[{"status":"exploding","labels":{"canary":"shop/podinfo"}}]}""")]
    public async Task A_malformed_payload_is_400_and_nothing_is_published(string body)
    {
        var response = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(await PublishedAbortsAsync());
    }

    [Fact]
    public async Task A_malformed_alert_after_a_valid_one_publishes_nothing()
    {
        var response = await PostAsync(Payload(
            Alert("firing", "\"alertname\":\"A\",\"canary\":\"shop/podinfo\""),
            """{"status":"firing"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(await PublishedAbortsAsync());
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_refused()
    {
        var labels = string.Join(",", Enumerable.Range(0, 200).Select(i => $"\"l{i}\":\"{new string('x', 20)}\""));
        var response = await PostAsync(Payload(Alert("firing", "\"canary\":\"shop/podinfo\"," + labels)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(await PublishedAbortsAsync());
    }
}

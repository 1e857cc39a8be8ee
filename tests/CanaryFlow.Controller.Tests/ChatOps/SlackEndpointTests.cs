using System.Globalization;
using System.Net;
using System.Text;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Tests.Notifications;
using CanaryFlow.Controller.Triggers.Security;
using CanaryFlow.Controller.Web;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.ChatOps;

public sealed class SlackEndpointTests : IAsyncLifetime
{
    private const string SigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    private const string AllowedUser = "U0ALLOWED";
    private static readonly RolloutTarget Checkout = new("shop", "checkout");

    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-25T15:00:00Z"));
    private LocalWebApp _app = null!;
    private ITestHarness _harness = null!;
    private RecordingReceiver _slack = null!;

    public async Task InitializeAsync()
    {
        _slack = await RecordingReceiver.StartAsync();
        _app = await LocalWebApp.StartAsync(
            new Dictionary<string, string?>
            {
                ["Slack:SigningSecret"] = SigningSecret,
                ["Slack:AllowedUsers:0"] = AllowedUser,
                ["Slack:ResponseUrlPrefix"] = _slack.UrlFor("response-"),
            },
            (services, configuration) => services.AddSingleton<TimeProvider>(_time).AddCanaryFlowSlack(configuration).AddMassTransitTestHarness(),
            app => app.MapSlackEndpoints());
        _harness = _app.Services.GetRequiredService<ITestHarness>();
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _slack.DisposeAsync();
    }

    private static string ClickPayload(string userId, string actionId, string responseUrl = "https://hooks.slack.com/actions/T0001/1/abc") => $$"""
        {"type":"block_actions","user":{"id":"{{userId}}","username":"alice","team_id":"T0001"},"api_app_id":"A0001",
         "container":{"type":"message","message_ts":"1732545600.000100","channel_id":"C0001"},
         "response_url":"{{responseUrl}}",
         "actions":[{"type":"button","action_id":"{{actionId}}","block_id":"canaryflow:shop/checkout","value":"shop/checkout",
                     "text":{"type":"plain_text","text":"Promote"},"action_ts":"1732545601.000200"}]}
        """;

    private static string Form(params (string Key, string Value)[] fields) =>
        string.Join('&', fields.Select(f => f.Key + "=" + Uri.EscapeDataString(f.Value)));

    private async Task<HttpResponseMessage> PostAsync(string path, string body, DateTimeOffset? signedAt = null, string secret = SigningSecret, bool sign = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "slack/" + path) { Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded") };
        if (sign)
        {
            var timestamp = (signedAt ?? _time.GetUtcNow()).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            request.Headers.Add("X-Slack-Request-Timestamp", timestamp);
            request.Headers.Add("X-Slack-Signature", "v0=" + SecretComparer.HmacSha256Hex(secret, Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}")));
        }
        return await _app.Client.SendAsync(request);
    }

    private int PublishedCommands() =>
        _harness.Published.Select<PromoteRollout>().Count() + _harness.Published.Select<AbortRollout>().Count()
        + _harness.Published.Select<PauseRollout>().Count() + _harness.Published.Select<ResumeRollout>().Count()
        + _harness.Published.Select<RetryRollout>().Count();

    [Fact]
    public async Task Signed_promote_click_from_an_allowed_user_publishes_PromoteRollout_for_the_rollout()
    {
        var response = await PostAsync("interactions", Form(("payload", ClickPayload(AllowedUser, SlackNotifier.PromoteActionId))));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Promote requested for *shop/checkout*", await response.Content.ReadAsStringAsync());
        var promote = Assert.Single(_harness.Published.Select<PromoteRollout>()).Context.Message;
        Assert.Equal(new PromoteRollout(RolloutIds.ForTarget(Checkout), Checkout, "slack:" + AllowedUser, "promote from Slack by @alice"), promote);
    }

    [Fact]
    public async Task Button_replies_go_to_the_response_url_only_when_it_is_under_the_allowed_prefix()
    {
        await PostAsync("interactions", Form(("payload", ClickPayload(AllowedUser, SlackNotifier.PromoteActionId, _slack.UrlFor("elsewhere")))));
        await PostAsync("interactions", Form(("payload", ClickPayload(AllowedUser, SlackNotifier.AbortActionId, _slack.UrlFor("response-1")))));
        await _slack.WaitUntilAsync(r => r.For("response-1").Count == 1, "the reply reached the response URL");
        Assert.Contains("Abort requested for *shop/checkout*", _slack.For("response-1")[0].Body);
        Assert.Contains("\"response_type\":\"ephemeral\"", _slack.For("response-1")[0].Body);
        Assert.Empty(_slack.For("elsewhere"));
    }

    [Fact]
    public async Task Signed_abort_click_publishes_AbortRollout()
    {
        var response = await PostAsync("interactions", Form(("payload", ClickPayload(AllowedUser, SlackNotifier.AbortActionId))));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("slack:" + AllowedUser, Assert.Single(_harness.Published.Select<AbortRollout>()).Context.Message.Actor);
    }

    [Fact]
    public async Task Unsigned_or_tampered_clicks_are_refused_and_publish_nothing()
    {
        var body = Form(("payload", ClickPayload(AllowedUser, SlackNotifier.PromoteActionId)));
        var unsigned = await PostAsync("interactions", body, sign: false);
        var wrongSecret = await PostAsync("interactions", body, secret: "another-signing-secret-123456789");
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.StatusCode);
        Assert.Equal(0, PublishedCommands());
    }

    [Fact]
    public async Task A_click_signed_more_than_five_minutes_ago_is_refused()
    {
        var response = await PostAsync("interactions", Form(("payload", ClickPayload(AllowedUser, SlackNotifier.PromoteActionId))),
            signedAt: _time.GetUtcNow().AddMinutes(-6));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(0, PublishedCommands());
    }

    [Fact]
    public async Task A_user_not_on_the_allow_list_is_told_so_and_nothing_is_published()
    {
        var response = await PostAsync("interactions", Form(("payload", ClickPayload("U0STRANGER", SlackNotifier.PromoteActionId))));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("not allowed", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, PublishedCommands());
    }

    [Theory]
    [InlineData("pause shop/checkout checking dashboards", "checking dashboards")]
    [InlineData("resume shop/checkout", "resume from Slack by @alice")]
    [InlineData("retry shop/checkout config fixed", "config fixed")]
    public async Task Slash_command_publishes_the_named_command_with_its_reason(string text, string reason)
    {
        var response = await PostAsync("commands", Form(("command", "/canary"), ("text", text), ("user_id", AllowedUser), ("user_name", "alice")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var published = _harness.Published.Select<PauseRollout>().Select(p => (p.Context.Message.Actor, p.Context.Message.Reason))
            .Concat(_harness.Published.Select<ResumeRollout>().Select(p => (p.Context.Message.Actor, p.Context.Message.Reason)))
            .Concat(_harness.Published.Select<RetryRollout>().Select(p => (p.Context.Message.Actor, p.Context.Message.Reason)));
        Assert.Equal(("slack:" + AllowedUser, reason), Assert.Single(published));
    }

    [Theory]
    [InlineData("")]
    [InlineData("promote")]
    [InlineData("deploy shop/checkout")]
    [InlineData("promote checkout")]
    public async Task Slash_command_with_bad_usage_replies_with_usage_and_publishes_nothing(string text)
    {
        var response = await PostAsync("commands", Form(("command", "/canary"), ("text", text), ("user_id", AllowedUser)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Usage", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, PublishedCommands());
    }

    [Fact]
    public async Task Signed_but_malformed_interaction_payload_is_a_bad_request()
    {
        var response = await PostAsync("interactions", Form(("payload", "{not json")));
        var missing = await PostAsync("interactions", Form(("other", "x")));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal(0, PublishedCommands());
    }
}

using System.Text;
using System.Text.Json;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Notifications.Delivery;
using CanaryFlow.Controller.Triggers.Security;

namespace CanaryFlow.Controller.Tests.Notifications;

public sealed class NotificationDeliveryTests : IAsyncLifetime
{
    private readonly string _dataPath = Directory.CreateTempSubdirectory("canaryflow-notify-").FullName;
    private RecordingReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await RecordingReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        Directory.Delete(_dataPath, recursive: true);
    }

    private Dictionary<string, (string, string)> Channels(params string[] kinds) =>
        kinds.ToDictionary(k => k, k => (k, _receiver.UrlFor(k)));

    private static JsonElement Json(RecordingReceiver.Received r) => JsonDocument.Parse(r.Body).RootElement;

    [Fact]
    public async Task Every_channel_kind_gets_the_transition_with_weight_analysis_bounds_and_promote_abort()
    {
        await using var host = await NotificationHost.StartAsync(_dataPath, Channels("slack", "teams", "discord", "googlechat", "webhook"));
        await host.PublishAndConsumeAsync(NotificationHost.Transition(7));
        await _receiver.WaitUntilAsync(r => new[] { "slack", "teams", "discord", "googlechat", "webhook" }.All(c => r.For(c).Count == 1), "all five channels got one message");

        var slack = Json(_receiver.For("slack")[0]).GetProperty("attachments")[0];
        Assert.Equal("#DAA038", slack.GetProperty("color").GetString()); // paused: amber
        var slackText = slack.GetRawText();
        Assert.Contains("20%", slackText);
        Assert.Contains("request-success-rate 97.5 (min 99) fail", slackText);
        var actions = slack.GetProperty("blocks").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "actions").GetProperty("elements");
        Assert.Contains(actions.EnumerateArray(), a => a.GetProperty("action_id").GetString() == SlackNotifier.PromoteActionId && a.GetProperty("value").GetString() == "shop/checkout");
        Assert.Contains(actions.EnumerateArray(), a => a.GetProperty("action_id").GetString() == SlackNotifier.AbortActionId);

        var teams = Json(_receiver.For("teams")[0]).GetProperty("attachments")[0];
        Assert.Equal("application/vnd.microsoft.card.adaptive", teams.GetProperty("contentType").GetString());
        Assert.Equal("AdaptiveCard", teams.GetProperty("content").GetProperty("type").GetString());
        Assert.Contains("request-duration 120 (max 500) pass", teams.GetRawText());
        Assert.Contains("https://canaryflow.example.com/rollouts/shop/checkout", teams.GetRawText());

        var discord = Json(_receiver.For("discord")[0]).GetProperty("embeds")[0];
        Assert.Equal(0xDAA038, discord.GetProperty("color").GetInt32());
        Assert.Contains("canaryflow abort shop/checkout", discord.GetRawText());

        var chat = Json(_receiver.For("googlechat")[0]).GetProperty("cardsV2")[0].GetProperty("card");
        Assert.Equal("shop/checkout: Paused", chat.GetProperty("header").GetProperty("title").GetString());
        Assert.Contains("canaryflow promote shop/checkout", chat.GetRawText());

        var webhook = _receiver.For("webhook")[0];
        var timestamp = webhook.Headers[SignedWebhookNotifier.TimestampHeader];
        Assert.True(SecretComparer.HmacSha256HexMatches(webhook.Headers[SignedWebhookNotifier.SignatureHeader], "v1=", NotificationHost.WebhookSecret,
            Encoding.UTF8.GetBytes(timestamp + "." + webhook.Body)));
        Assert.Equal(7, Json(webhook).GetProperty("transition").GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Finished_rollouts_are_coloured_by_outcome_and_offer_no_promote_button()
    {
        await using var host = await NotificationHost.StartAsync(_dataPath, Channels("slack"));
        await host.PublishAndConsumeAsync(NotificationHost.Transition(1, "Failed", 0));
        await _receiver.WaitUntilAsync(r => r.For("slack").Count == 1, "slack got the failure");
        var attachment = Json(_receiver.For("slack")[0]).GetProperty("attachments")[0];
        Assert.Equal("#D00000", attachment.GetProperty("color").GetString());
        Assert.DoesNotContain(SlackNotifier.PromoteActionId, attachment.GetRawText());
    }

    [Fact]
    public async Task A_channel_answering_500_then_429_is_retried_within_bounds_while_the_bus_and_other_channels_go_on()
    {
        var gate = new TaskCompletionSource();
        _receiver.Script("webhook",
            new RecordingReceiver.Answer(500, Gate: gate.Task),
            new RecordingReceiver.Answer(429, RetryAfter: "1"));
        await using var host = await NotificationHost.StartAsync(_dataPath, Channels("webhook", "slack"));

        await host.PublishAndConsumeAsync(NotificationHost.Transition(1));
        await _receiver.WaitUntilAsync(r => r.For("slack").Count == 1, "the healthy channel got v1 while the other is held");
        await host.PublishAndConsumeAsync(NotificationHost.Transition(2));
        await _receiver.WaitUntilAsync(r => r.For("slack").Count == 2, "the healthy channel got v2");
        Assert.Empty(_receiver.For("webhook")); // still held at its first attempt: consumption did not wait for it

        gate.SetResult();
        await _receiver.WaitUntilAsync(r => r.For("webhook").Count(x => x.Status == 200) == 2, "both messages reached the flaky channel");
        var deliveries = _receiver.For("webhook").Select(x => (x.Headers[SignedWebhookNotifier.DeliveryHeader], x.Status)).ToList();
        var v1 = Notification.KeyFor(NotificationHost.Transition(1), "webhook");
        Assert.Equal([(v1, 500), (v1, 429), (v1, 200)], deliveries.Where(d => d.Item1 == v1));
        Assert.Single(deliveries, d => d.Item1 != v1);
    }

    [Fact]
    public async Task A_channel_that_refuses_for_good_is_given_up_at_once_and_counted_failed()
    {
        var failedBefore = NotificationMetrics.Messages.WithLabels("discord", "failed").Value;
        _receiver.Script("discord", Enumerable.Repeat(new RecordingReceiver.Answer(404), 20).ToArray());
        await using var host = await NotificationHost.StartAsync(_dataPath, Channels("discord"));
        var transition = NotificationHost.Transition(3);
        await host.PublishAndConsumeAsync(transition);
        await _receiver.WaitUntilAsync(_ => host.Ledger.IsDone(Notification.KeyFor(transition, "discord")), "the message was given up");
        // A 404 is not transient: no retry, no later round (a wrong URL does not heal by waiting).
        Assert.Single(_receiver.For("discord"));
        Assert.Equal(failedBefore + 1, NotificationMetrics.Messages.WithLabels("discord", "failed").Value);
    }

    [Fact]
    public async Task A_redelivered_transition_gives_one_message_per_channel()
    {
        var duplicatesBefore = NotificationMetrics.Messages.WithLabels("teams", "duplicate").Value;
        await using var host = await NotificationHost.StartAsync(_dataPath, Channels("slack", "teams"));
        await host.PublishAndConsumeAsync(NotificationHost.Transition(5));
        await host.PublishAndConsumeAsync(NotificationHost.Transition(5));
        await host.PublishAndConsumeAsync(NotificationHost.Transition(6));
        // Each channel delivers in order, so once v6 is there any duplicate of v5 would be too.
        await _receiver.WaitUntilAsync(r => r.For("slack").Count >= 2 && r.For("teams").Count >= 2, "v6 reached both channels");
        Assert.Equal(2, _receiver.For("slack").Count);
        Assert.Equal(2, _receiver.For("teams").Count);
        Assert.Equal(duplicatesBefore + 1, NotificationMetrics.Messages.WithLabels("teams", "duplicate").Value);
    }

    [Fact]
    public async Task After_a_restart_a_sent_transition_is_not_sent_again_and_an_unsent_one_is()
    {
        var never = new TaskCompletionSource();
        _receiver.Script("webhook", new RecordingReceiver.Answer(200), new RecordingReceiver.Answer(200, Gate: never.Task));
        await using (var first = await NotificationHost.StartAsync(_dataPath, Channels("webhook")))
        {
            await first.PublishAndConsumeAsync(NotificationHost.Transition(1));
            await _receiver.WaitUntilAsync(r => r.For("webhook").Count == 1, "v1 sent before the restart");
            await first.PublishAndConsumeAsync(NotificationHost.Transition(2)); // held by the receiver while the controller stops
        }

        await using var second = await NotificationHost.StartAsync(_dataPath, Channels("webhook"));
        await second.PublishAndConsumeAsync(NotificationHost.Transition(1)); // redelivered after the restart
        await second.PublishAndConsumeAsync(NotificationHost.Transition(3));
        await _receiver.WaitUntilAsync(r => r.For("webhook").Any(x => Version(x) == 3), "v3 sent after the restart");
        Assert.Equal([1L, 2L, 3L], _receiver.For("webhook").Select(Version));
    }

    private static long Version(RecordingReceiver.Received r) => Json(r).GetProperty("transition").GetProperty("version").GetInt64();
}

using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Channels;

/// <summary>
/// Microsoft Teams through a Workflows ("When a Teams webhook request is received") URL: a message with
/// one Adaptive Card attachment. Teams cards cannot call back without a bot, so promote and abort are
/// the CLI commands plus a link to the status page.
/// </summary>
public sealed class TeamsNotifier(ChannelHttpSender sender, IOptions<NotificationOptions> options) : JsonWebhookNotifier(sender, options)
{
    public override string Kind => "teams";

    protected override object Payload(TransitionSummary s, Notification n)
    {
        var color = s.Outcome switch { Outcome.Success => "Good", Outcome.Failure => "Attention", Outcome.Warning => "Warning", _ => "Accent" };
        var body = new List<object>
        {
            new { type = "TextBlock", text = s.Title, weight = "Bolder", size = "Medium", color, wrap = true },
            new { type = "TextBlock", text = s.Headline, wrap = true },
            new { type = "FactSet", facts = new[] { new { title = "Weight", value = s.Weight }, new { title = "Step", value = s.Step } } },
            new { type = "TextBlock", text = "Analysis", weight = "Bolder", wrap = true },
            new { type = "TextBlock", text = MetricsText(s, "- "), wrap = true },
            new { type = "TextBlock", text = s.Advice, isSubtle = true, wrap = true },
        };
        if (s.CanSteer) body.Add(new { type = "TextBlock", text = $"Promote: `{s.PromoteCommand}`  \nAbort: `{s.AbortCommand}`", wrap = true, fontType = "Monospace" });
        var card = new Dictionary<string, object>
        {
            ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
            ["type"] = "AdaptiveCard",
            ["version"] = "1.4",
            ["body"] = body,
            ["actions"] = s.StatusUrl is null ? Array.Empty<object>() : new object[] { new { type = "Action.OpenUrl", title = "Open status", url = s.StatusUrl } },
        };
        return new { type = "message", attachments = new[] { new { contentType = "application/vnd.microsoft.card.adaptive", contentUrl = (string?)null, content = card } } };
    }
}

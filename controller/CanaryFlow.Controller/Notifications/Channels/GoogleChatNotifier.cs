using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Channels;

/// <summary>Google Chat incoming webhook: a cardsV2 card with the facts, the analysis and a status link.</summary>
public sealed class GoogleChatNotifier(ChannelHttpSender sender, IOptions<NotificationOptions> options) : JsonWebhookNotifier(sender, options)
{
    public override string Kind => "googlechat";

    protected override object Payload(TransitionSummary s, Notification n)
    {
        var widgets = new List<object>
        {
            new { textParagraph = new { text = s.Headline } },
            new { decoratedText = new { topLabel = "Weight", text = s.Weight } },
            new { decoratedText = new { topLabel = "Step", text = s.Step } },
            new { decoratedText = new { topLabel = "Analysis", text = MetricsText(s).Replace("\n", "<br>"), wrapText = true } },
            new { textParagraph = new { text = $"<font color=\"{s.ColorHex}\">{s.Advice}</font>" } },
        };
        if (s.CanSteer) widgets.Add(new { textParagraph = new { text = $"Promote: <b>{s.PromoteCommand}</b><br>Abort: <b>{s.AbortCommand}</b>" } });
        if (s.StatusUrl is not null)
            widgets.Add(new { buttonList = new { buttons = new[] { new { text = "Open status", onClick = new { openLink = new { url = s.StatusUrl } } } } } });
        return new
        {
            text = s.Title,
            cardsV2 = new[]
            {
                new { cardId = "canaryflow-" + n.Key.Replace(':', '-'), card = new { header = new { title = s.Title, subtitle = s.Outcome.ToString() }, sections = new[] { new { widgets } } } },
            },
        };
    }
}

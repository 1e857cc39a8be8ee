using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Channels;

/// <summary>Discord webhook: one embed, its colour the outcome, fields for weight, step and analysis.</summary>
public sealed class DiscordNotifier(ChannelHttpSender sender, IOptions<NotificationOptions> options) : JsonWebhookNotifier(sender, options)
{
    public override string Kind => "discord";

    protected override object Payload(TransitionSummary s, Notification n)
    {
        var fields = new List<object>
        {
            new { name = "Weight", value = s.Weight, inline = true },
            new { name = "Step", value = s.Step, inline = true },
            new { name = "Analysis", value = MetricsText(s), inline = false },
        };
        if (s.CanSteer) fields.Add(new { name = "Promote / abort", value = $"`{s.PromoteCommand}`\n`{s.AbortCommand}`", inline = false });
        return new
        {
            username = "CanaryFlow",
            embeds = new[]
            {
                new { title = s.Title, description = s.Headline, url = s.StatusUrl, color = s.ColorRgb, fields, footer = new { text = s.Advice }, timestamp = n.Transition.At.ToString("O") },
            },
        };
    }
}

using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Channels;

/// <summary>
/// Slack incoming webhook: an attachment coloured by outcome holding Block Kit blocks, with Promote
/// and Abort buttons while the rollout can still be steered. The buttons carry "ns/name" as their
/// value and come back to <c>/slack/interactions</c> (see Web/SlackEndpoints).
/// </summary>
public sealed class SlackNotifier(ChannelHttpSender sender, IOptions<NotificationOptions> options) : JsonWebhookNotifier(sender, options)
{
    public const string PromoteActionId = "canaryflow_promote";
    public const string AbortActionId = "canaryflow_abort";

    public override string Kind => "slack";

    protected override object Payload(TransitionSummary s, Notification n)
    {
        var target = n.Transition.Target.ToString();
        var blocks = new List<object>
        {
            new { type = "header", text = new { type = "plain_text", text = s.Title } },
            new { type = "section", text = new { type = "mrkdwn", text = s.Headline } },
            new
            {
                type = "section",
                fields = new object[]
                {
                    new { type = "mrkdwn", text = $"*Weight*\n{s.Weight}" },
                    new { type = "mrkdwn", text = $"*Step*\n{s.Step}" },
                },
            },
            new { type = "section", text = new { type = "mrkdwn", text = "*Analysis*\n" + MetricsText(s) } },
            new { type = "context", elements = new object[] { new { type = "mrkdwn", text = s.Advice } } },
        };
        var actions = new List<object>();
        if (s.CanSteer)
        {
            actions.Add(new { type = "button", action_id = PromoteActionId, style = "primary", value = target, text = new { type = "plain_text", text = "Promote" } });
            actions.Add(new
            {
                type = "button", action_id = AbortActionId, style = "danger", value = target, text = new { type = "plain_text", text = "Abort" },
                confirm = new
                {
                    title = new { type = "plain_text", text = "Abort this rollout?" },
                    text = new { type = "mrkdwn", text = $"All traffic of *{target}* goes back to stable." },
                    confirm = new { type = "plain_text", text = "Abort" },
                    deny = new { type = "plain_text", text = "Cancel" },
                },
            });
        }
        if (s.StatusUrl is not null) actions.Add(new { type = "button", action_id = "canaryflow_status", url = s.StatusUrl, text = new { type = "plain_text", text = "Status" } });
        if (actions.Count > 0) blocks.Add(new { type = "actions", block_id = "canaryflow:" + target, elements = actions });
        return new { text = $"{s.Title}: {s.Headline}", attachments = new[] { new { color = s.ColorHex, blocks } } };
    }
}

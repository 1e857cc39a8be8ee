using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Web;

/// <summary>A steering request from Slack, whether a button click or a slash command.</summary>
public sealed record SlackCommand(string Verb, RolloutTarget Target, string? Reason);

/// <summary>Turns Slack's words into commands and contract messages.</summary>
public static class SlackCommands
{
    public static readonly string[] Verbs = ["promote", "abort", "pause", "resume", "retry"];

    public const string Usage = "Usage: `/canary promote|abort|pause|resume|retry namespace/name [reason]`";

    /// <summary>Parses the text of <c>/canary promote shop/checkout looks good</c>; null when it is not of that form.</summary>
    public static SlackCommand? ParseText(string? text)
    {
        var parts = (text ?? "").Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length < 2) return null;
        var verb = parts[0].ToLowerInvariant();
        var target = RolloutTarget.TryParse(parts[1]);
        return Verbs.Contains(verb) && target is not null ? new SlackCommand(verb, target, parts.Length == 3 ? parts[2] : null) : null;
    }

    public static object ToMessage(SlackCommand command, string actor, string reason)
    {
        var id = RolloutIds.ForTarget(command.Target);
        return command.Verb switch
        {
            "promote" => new PromoteRollout(id, command.Target, actor, reason),
            "abort" => new AbortRollout(id, command.Target, actor, reason),
            "pause" => new PauseRollout(id, command.Target, actor, reason),
            "resume" => new ResumeRollout(id, command.Target, actor, reason),
            "retry" => new RetryRollout(id, command.Target, actor, reason),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.Verb, "Unknown verb."),
        };
    }
}

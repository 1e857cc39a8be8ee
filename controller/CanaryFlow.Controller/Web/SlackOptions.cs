using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Web;

/// <summary>Section "Slack": the app's signing secret (never logged) and who may steer rollouts from Slack.</summary>
public sealed class SlackOptions
{
    public const string Section = "Slack";

    /// <summary>From the Slack app's "Basic Information" page. Without it every Slack request is refused.</summary>
    public string? SigningSecret { get; set; }

    /// <summary>Slack user ids (e.g. "U024BE7LH") allowed to promote, abort, pause and resume. Empty: nobody.</summary>
    public List<string> AllowedUsers { get; set; } = [];

    /// <summary>Slack's own recommendation: refuse requests whose timestamp is more than five minutes off.</summary>
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromMinutes(5);

    public long MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Button replies go only to response URLs starting with this (Slack's own host).</summary>
    public string ResponseUrlPrefix { get; set; } = "https://hooks.slack.com/";
}

internal sealed class SlackOptionsValidator : IValidateOptions<SlackOptions>
{
    public ValidateOptionsResult Validate(string? name, SlackOptions o)
    {
        var errors = new List<string>();
        if (o.SigningSecret is { Length: > 0 and < 16 }) errors.Add("Slack:SigningSecret looks truncated (Slack's are 32 characters).");
        if (o.ReplayWindow <= TimeSpan.Zero || o.ReplayWindow > TimeSpan.FromMinutes(5)) errors.Add("Slack:ReplayWindow must be between 0 and 5 minutes.");
        if (o.MaxBodyBytes is < 1024 or > 1024 * 1024) errors.Add("Slack:MaxBodyBytes must be between 1 KiB and 1 MiB.");
        if (!Uri.TryCreate(o.ResponseUrlPrefix, UriKind.Absolute, out _)) errors.Add("Slack:ResponseUrlPrefix must be an absolute URL.");
        if (o.AllowedUsers.Any(string.IsNullOrWhiteSpace)) errors.Add("Slack:AllowedUsers must not contain empty ids.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

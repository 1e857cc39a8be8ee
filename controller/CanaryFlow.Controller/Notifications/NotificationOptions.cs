using CanaryFlow.Controller.Storage;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications;

/// <summary>
/// Section "Notifications". Channel URLs and signing secrets are secrets (a Slack or Teams webhook URL
/// is a credential): bind them from a mounted Kubernetes Secret or other configuration, never from a
/// Canary spec. They are never logged; logs name the channel only.
/// </summary>
public sealed class NotificationOptions
{
    public const string Section = "Notifications";

    /// <summary>Folder for the delivery ledger (one small file) that keeps one message per transition per channel across restarts; by default outside the working folder (<see cref="DataFolders"/>).</summary>
    public string DataPath { get; set; } = DataFolders.Default("notifications");

    /// <summary>Base URL of the controller's status page, for links in messages (optional).</summary>
    public string? StatusPageUrl { get; set; }

    /// <summary>Channels by name.</summary>
    public Dictionary<string, ChannelOptions> Channels { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Target "namespace/name" → channel names. A target not listed gets <see cref="Defaults"/>.</summary>
    public Dictionary<string, List<string>> Targets { get; set; } = new(StringComparer.Ordinal);

    public List<string> Defaults { get; set; } = [];

    /// <summary>Attempts per delivery round, first one included (bounded: a dead channel costs a few requests, never a storm).</summary>
    public int MaxAttempts { get; set; } = 5;

    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First retry delay; later ones grow exponentially with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A 429 Retry-After longer than this is capped, so one channel cannot park its queue for hours.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a channel's circuit stays open after it failed 3 requests in a row: one probe per break at most.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A round of <see cref="MaxAttempts"/> that fails on a transient answer (5xx, 429, 408, a refused or dropped
    /// connection, a timeout, an open circuit) keeps the message at the head of its channel's queue, and a new
    /// round starts after this delay, doubling per round up to <see cref="MaxRedeliveryDelay"/>.
    /// </summary>
    public TimeSpan RedeliveryDelay { get; set; } = TimeSpan.FromMinutes(1);

    public TimeSpan MaxRedeliveryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A message still undelivered this long after it was queued is given up: logged as an error and counted
    /// as result "expired". Far longer than a chat service's outages, so an outage of hours loses nothing.
    /// </summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Done entries the ledger keeps (older ones are compacted away).</summary>
    public int LedgerRetention { get; set; } = 20_000;

    public IReadOnlyList<string> ChannelsFor(string target) =>
        Targets.TryGetValue(target, out var names) ? names : Defaults;
}

public sealed class ChannelOptions
{
    /// <summary>"slack", "teams", "discord", "googlechat" or "webhook" (generic JSON signed with HMAC-SHA256).</summary>
    public string Kind { get; set; } = "";

    public string Url { get; set; } = "";

    /// <summary>HMAC key for "webhook" channels.</summary>
    public string? Secret { get; set; }

    /// <summary>Messages per minute this channel accepts (Slack allows about one a second per webhook).</summary>
    public int RatePerMinute { get; set; } = 30;

    /// <summary>Messages held in memory for this channel's worker; beyond it they wait in the ledger only and are taken in order as the queue drains (none dropped).</summary>
    public int QueueCapacity { get; set; } = 1000;
}

internal sealed class NotificationOptionsValidator : IValidateOptions<NotificationOptions>
{
    public static readonly string[] Kinds = ["slack", "teams", "discord", "googlechat", "webhook"];

    public ValidateOptionsResult Validate(string? name, NotificationOptions o)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.DataPath)) errors.Add("Notifications:DataPath is required.");
        if (o.StatusPageUrl is { Length: > 0 } page && !IsHttpUrl(page)) errors.Add("Notifications:StatusPageUrl must be an http(s) URL.");
        if (o.MaxAttempts is < 1 or > 10) errors.Add("Notifications:MaxAttempts must be 1..10.");
        if (o.AttemptTimeout <= TimeSpan.Zero) errors.Add("Notifications:AttemptTimeout must be positive.");
        if (o.RetryBaseDelay < TimeSpan.Zero || o.MaxRetryAfter < TimeSpan.Zero) errors.Add("Notifications retry delays must not be negative.");
        if (o.BreakDuration <= TimeSpan.Zero) errors.Add("Notifications:BreakDuration must be positive.");
        if (o.RedeliveryDelay <= TimeSpan.Zero || o.MaxRedeliveryDelay < o.RedeliveryDelay)
            errors.Add("Notifications:RedeliveryDelay must be positive and MaxRedeliveryDelay at least RedeliveryDelay.");
        if (o.MaxAge <= TimeSpan.Zero) errors.Add("Notifications:MaxAge must be positive.");
        if (o.LedgerRetention < 100) errors.Add("Notifications:LedgerRetention must be at least 100.");
        foreach (var (channel, c) in o.Channels)
        {
            // Messages name the channel, never its URL: the URL is a credential.
            if (!Kinds.Contains(c.Kind)) errors.Add($"Notifications:Channels:{channel}:Kind must be one of {string.Join(", ", Kinds)}.");
            if (!IsHttpUrl(c.Url)) errors.Add($"Notifications:Channels:{channel}:Url must be an http(s) URL.");
            if (c.Kind == "webhook" && (c.Secret?.Length ?? 0) < 16) errors.Add($"Notifications:Channels:{channel}:Secret must have at least 16 characters.");
            if (c.RatePerMinute < 1) errors.Add($"Notifications:Channels:{channel}:RatePerMinute must be at least 1.");
            if (c.QueueCapacity < 1) errors.Add($"Notifications:Channels:{channel}:QueueCapacity must be at least 1.");
        }
        foreach (var (owner, names) in o.Targets.Select(t => ($"Targets:{t.Key}", t.Value)).Append(("Defaults", o.Defaults)))
            foreach (var missing in names.Where(n => !o.Channels.ContainsKey(n)))
                errors.Add($"Notifications:{owner} names channel '{missing}', which is not configured.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsHttpUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp);
}

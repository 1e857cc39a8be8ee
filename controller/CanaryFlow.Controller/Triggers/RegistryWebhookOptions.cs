using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers;

/// <summary>
/// Section "Triggers". Secrets come from configuration, which may be a mounted Kubernetes Secret
/// (key-per-file). A registry whose secret is not set is refused (401): nothing is open by default.
/// These values are never logged.
/// </summary>
public sealed class RegistryWebhookOptions
{
    public const string Section = "Triggers";

    /// <summary>Requests with larger bodies get 413; registry payloads are a few KB.</summary>
    public long MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>An event whose publisher timestamp is further than this from now is refused as a replay.</summary>
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long delivery ids are remembered, and how many at most.</summary>
    public TimeSpan DeliveryIdRetention { get; set; } = TimeSpan.FromHours(24);

    public int MaxRememberedDeliveries { get; set; } = 10_000;

    /// <summary>The same image for the same target within this time is one change, whatever route it came by.</summary>
    public TimeSpan DuplicatePushWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Docker Hub can neither sign nor send headers: its webhook URL ends with this token.</summary>
    public SecretOptions DockerHub { get; set; } = new();

    /// <summary>Harbor sends the policy's "Auth Header" value as the Authorization header.</summary>
    public HarborOptions Harbor { get; set; } = new();

    /// <summary>GitHub signs the body: X-Hub-Signature-256 = HMAC-SHA256(secret, body).</summary>
    public SecretOptions GitHub { get; set; } = new();

    /// <summary>Azure Container Registry sends the custom headers you configure on the webhook.</summary>
    public HeaderSecretOptions Acr { get; set; } = new();

    public CloudEventsOptions CloudEvents { get; set; } = new();
}

public class SecretOptions
{
    public string? Secret { get; set; }
}

public class HeaderSecretOptions : SecretOptions
{
    public string HeaderName { get; set; } = "X-CanaryFlow-Secret";
}

public sealed class HarborOptions : SecretOptions
{
    /// <summary>Registry host used when a Harbor payload has no resource_url (older Harbor versions).</summary>
    public string? Registry { get; set; }
}

public sealed class CloudEventsOptions : HeaderSecretOptions
{
    /// <summary>Event types that mean "an image was pushed"; other types are acknowledged and ignored.</summary>
    public List<string> PushTypes { get; set; } = ["harbor.artifact.pushed", "Microsoft.ContainerRegistry.ImagePushed", "dev.canaryflow.image.pushed"];
}

internal sealed class RegistryWebhookOptionsValidator : IValidateOptions<RegistryWebhookOptions>
{
    // A short token in a URL or header is guessable; 16 characters is the least we accept.
    private const int MinSecretLength = 16;

    public ValidateOptionsResult Validate(string? name, RegistryWebhookOptions o)
    {
        var errors = new List<string>();
        if (o.MaxBodyBytes is < 1024 or > 16 * 1024 * 1024) errors.Add("Triggers:MaxBodyBytes must be between 1 KiB and 16 MiB.");
        if (o.ReplayWindow <= TimeSpan.Zero || o.ReplayWindow > TimeSpan.FromHours(1)) errors.Add("Triggers:ReplayWindow must be between 0 and 1 hour.");
        if (o.DeliveryIdRetention < o.ReplayWindow) errors.Add("Triggers:DeliveryIdRetention must be at least the ReplayWindow.");
        if (o.MaxRememberedDeliveries < 100) errors.Add("Triggers:MaxRememberedDeliveries must be at least 100.");
        if (o.DuplicatePushWindow < TimeSpan.Zero) errors.Add("Triggers:DuplicatePushWindow must not be negative.");
        foreach (var (section, secret) in new[] { ("DockerHub", o.DockerHub), ("Harbor", o.Harbor), ("GitHub", o.GitHub), ("Acr", o.Acr), ("CloudEvents", (SecretOptions)o.CloudEvents) })
        {
            if (secret.Secret is { Length: > 0 and < MinSecretLength })
                errors.Add($"Triggers:{section}:Secret must have at least {MinSecretLength} characters.");
            if (secret is HeaderSecretOptions { HeaderName: var header } && string.IsNullOrWhiteSpace(header))
                errors.Add($"Triggers:{section}:HeaderName must not be empty.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

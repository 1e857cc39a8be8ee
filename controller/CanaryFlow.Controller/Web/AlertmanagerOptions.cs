using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Web;

/// <summary>The Alertmanager webhook receiver. Bound from the "Alertmanager" configuration section.</summary>
public sealed class AlertmanagerOptions
{
    public const string SectionName = "Alertmanager";

    /// <summary>Alertmanager's http_config.authorization credentials; required (an open abort button is a risk).</summary>
    public string BearerToken { get; set; } = "";

    /// <summary>Route of the receiver.</summary>
    public string Path { get; set; } = "/webhooks/alertmanager";

    /// <summary>Larger bodies get 413. Alertmanager's max_alerts keeps real payloads far below this.</summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;
}

public sealed class AlertmanagerOptionsValidator : IValidateOptions<AlertmanagerOptions>
{
    public ValidateOptionsResult Validate(string? name, AlertmanagerOptions o)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.BearerToken) || o.BearerToken.Length < 16)
            errors.Add($"{AlertmanagerOptions.SectionName}:BearerToken is required, at least 16 characters.");
        if (string.IsNullOrWhiteSpace(o.Path) || !o.Path.StartsWith('/'))
            errors.Add($"{AlertmanagerOptions.SectionName}:Path must start with '/'.");
        if (o.MaxBodyBytes is < 1024 or > 16 * 1024 * 1024)
            errors.Add($"{AlertmanagerOptions.SectionName}:MaxBodyBytes must be 1 KiB..16 MiB.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

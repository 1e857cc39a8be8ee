using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes;

/// <summary>Rejects a configuration that would misbehave later, with every reason at once.</summary>
public sealed partial class KubernetesOptionsValidator : IValidateOptions<KubernetesOptions>
{
    public ValidateOptionsResult Validate(string? name, KubernetesOptions o)
    {
        var errors = new List<string>();
        if (!o.InCluster && o.KubeconfigPath is { } path && !File.Exists(path)) errors.Add($"Kubernetes:KubeconfigPath {path} does not exist");
        foreach (var ns in o.Namespaces.Append(o.LeaseNamespace).Where(ns => !DnsLabel().IsMatch(ns ?? "")))
            errors.Add($"Kubernetes: \"{ns}\" is not a valid namespace name");
        if (!DnsSubdomain().IsMatch(o.LeaseName ?? "")) errors.Add($"Kubernetes:LeaseName \"{o.LeaseName}\" is not a valid object name");
        if (o.RenewDeadline >= o.LeaseDuration) errors.Add("Kubernetes:RenewDeadline must be shorter than LeaseDuration");
        if (o.RetryPeriod <= TimeSpan.Zero || o.RetryPeriod >= o.RenewDeadline) errors.Add("Kubernetes:RetryPeriod must be positive and shorter than RenewDeadline");
        foreach (var (field, value) in new[] { ("RequestTimeout", o.RequestTimeout), ("RetryBaseDelay", o.RetryBaseDelay), ("BreakDuration", o.BreakDuration),
                     ("PollInterval", o.PollInterval), ("MaxWatchBackoff", o.MaxWatchBackoff), ("WatchTimeout", o.WatchTimeout) })
            if (value <= TimeSpan.Zero) errors.Add($"Kubernetes:{field} must be positive");
        if (o.MaxRetries is < 0 or > 10) errors.Add("Kubernetes:MaxRetries must be 0..10");
        if (o.BreakerMinimumThroughput < 2) errors.Add("Kubernetes:BreakerMinimumThroughput must be at least 2");
        if (o.MaxConcurrentRequests < 0) errors.Add("Kubernetes:MaxConcurrentRequests must be 0 (no bound) or more");
        if (string.IsNullOrWhiteSpace(o.TrackLabel)) errors.Add("Kubernetes:TrackLabel is required");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
    private static partial Regex DnsSubdomain();
}

using Microsoft.Extensions.Options;

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>Rejects unusable settings at start-up with a message that names the setting.</summary>
public sealed class PrometheusOptionsValidator : IValidateOptions<PrometheusOptions>
{
    public ValidateOptionsResult Validate(string? name, PrometheusOptions o)
    {
        var errors = new List<string>();
        const string s = PrometheusOptions.SectionName;
        if (!Uri.TryCreate(o.Address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            errors.Add($"{s}:Address must be an absolute http(s) URL, got '{o.Address}'.");
        if (!string.IsNullOrEmpty(o.BearerToken) && (!string.IsNullOrEmpty(o.Username) || !string.IsNullOrEmpty(o.Password)))
            errors.Add($"{s}: set either BearerToken or Username/Password, not both.");
        if (!string.IsNullOrEmpty(o.Password) && string.IsNullOrEmpty(o.Username))
            errors.Add($"{s}:Username is required with Password.");
        foreach (var header in o.Headers)
            if (string.IsNullOrWhiteSpace(header.Key) || header.Key.Any(c => c <= ' ' || c == ':') || header.Value.Any(char.IsControl))
                errors.Add($"{s}:Headers has an invalid header '{header.Key}'.");
        Positive(errors, o.AttemptTimeout, nameof(o.AttemptTimeout));
        Positive(errors, o.QueryTimeout, nameof(o.QueryTimeout));
        Positive(errors, o.RetryBaseDelay, nameof(o.RetryBaseDelay));
        Positive(errors, o.CircuitSamplingDuration, nameof(o.CircuitSamplingDuration));
        Positive(errors, o.CircuitBreakDuration, nameof(o.CircuitBreakDuration));
        Positive(errors, o.BatchWindow, nameof(o.BatchWindow));
        Positive(errors, o.ComparisonStep, nameof(o.ComparisonStep));
        Positive(errors, o.ComparisonRateWindow, nameof(o.ComparisonRateWindow));
        if (o.QueryTimeout < o.AttemptTimeout) errors.Add($"{s}:QueryTimeout must be at least AttemptTimeout.");
        if (o.MaxRetries is < 0 or > 10) errors.Add($"{s}:MaxRetries must be 0..10 (bounded retries), got {o.MaxRetries}.");
        if (o.CircuitFailureRatio is <= 0 or > 1) errors.Add($"{s}:CircuitFailureRatio must be in (0, 1].");
        if (o.CircuitMinimumThroughput < 2) errors.Add($"{s}:CircuitMinimumThroughput must be at least 2.");
        if (o.CircuitSamplingDuration < TimeSpan.FromMilliseconds(500)) errors.Add($"{s}:CircuitSamplingDuration must be at least 0.5s (Polly's minimum).");
        if (o.CircuitBreakDuration < TimeSpan.FromMilliseconds(500)) errors.Add($"{s}:CircuitBreakDuration must be at least 0.5s (Polly's minimum).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Positive(List<string> errors, TimeSpan value, string setting)
    {
        if (value <= TimeSpan.Zero) errors.Add($"{PrometheusOptions.SectionName}:{setting} must be positive, got {value}.");
    }
}

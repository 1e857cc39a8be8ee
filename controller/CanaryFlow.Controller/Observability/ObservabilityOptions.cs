using System.ComponentModel.DataAnnotations;

namespace CanaryFlow.Controller.Observability;

/// <summary>Settings of section "Observability" (logging format is <c>Logging:Format</c>: "json" or "simple").</summary>
public sealed class ObservabilityOptions : IValidatableObject
{
    public const string Section = "Observability";

    /// <summary>Folder where a report (PNG, and SVG beside it) is written for every finished rollout; none when empty.</summary>
    public string? ReportsDirectory { get; set; }

    /// <summary>OTLP endpoint for traces of bus messages (e.g. http://otel-collector:4317); tracing is off when empty.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Status pages that may follow the live stream at once; more get 503.</summary>
    [Range(1, 1000)]
    public int MaxStreamClients { get; set; } = 50;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(OtlpEndpoint) &&
            !(Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            yield return new("Observability:OtlpEndpoint must be an absolute http(s) URL.", [nameof(OtlpEndpoint)]);
        if (ReportsDirectory is { Length: > 0 } dir && dir.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            yield return new("Observability:ReportsDirectory is not a valid path.", [nameof(ReportsDirectory)]);
    }
}

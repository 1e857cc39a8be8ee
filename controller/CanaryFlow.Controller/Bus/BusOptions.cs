using System.ComponentModel.DataAnnotations;

namespace CanaryFlow.Controller.Bus;

public enum BusTransport { InMemory, RabbitMq }

/// <summary>Message bus settings (configuration section "Bus"). In-memory is the embedded default.</summary>
public sealed class BusOptions : IValidatableObject
{
    public const string Section = "Bus";

    public BusTransport Transport { get; set; } = BusTransport.InMemory;
    public RabbitMqOptions RabbitMq { get; set; } = new();

    /// <summary>Messages each endpoint processes at once (and RabbitMQ prefetch).</summary>
    [Range(1, 1000)]
    public int ConcurrentMessageLimit { get; set; } = 32;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Transport != BusTransport.RabbitMq) yield break;
        if (string.IsNullOrWhiteSpace(RabbitMq.Host)) yield return new("Bus:RabbitMq:Host is required for the RabbitMQ transport.");
        if (RabbitMq.Port is < 1 or > 65535) yield return new("Bus:RabbitMq:Port must be 1..65535.");
    }
}

public sealed class RabbitMqOptions
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 5672;
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "guest";
    public string Password { get; set; } = "guest";
    public bool UseTls { get; set; }
    /// <summary>TLS server name to verify (defaults to Host).</summary>
    public string? TlsServerName { get; set; }
}

using System.ComponentModel.DataAnnotations;

namespace CanaryFlow.Controller.Bus;

public enum BusTransport { InMemory, RabbitMq }

/// <summary>Message bus settings (configuration section "Bus"). In-memory is the embedded default.</summary>
public sealed class BusOptions : IValidatableObject
{
    public const string Section = "Bus";

    public BusTransport Transport { get; set; } = BusTransport.InMemory;
    public RabbitMqOptions RabbitMq { get; set; } = new();

    /// <summary>Messages each endpoint processes at once (and RabbitMQ prefetch). 64: the checks due at one grid point come
    /// as a burst, and with 32 its verdicts waited longer for the saga's slots (the engine's step p99 at ~1,000 active
    /// 76–148 ms against 51–60; three replicas, one run each, 98 s against 84 s for 1,000 Canaries), while one whole
    /// controller stayed within its spread (CPU alike, RSS 0–11 MiB more; docs/benchmarks.md, "Messages in flight per
    /// endpoint"). Kubernetes calls stay bounded on their own (Kubernetes:MaxConcurrentRequests).</summary>
    [Range(1, 1000)]
    public int ConcurrentMessageLimit { get; set; } = 64;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Transport != BusTransport.RabbitMq) yield break;
        if (string.IsNullOrWhiteSpace(RabbitMq.Host)) yield return new("Bus:RabbitMq:Host is required for the RabbitMQ transport.");
        if (RabbitMq.Port is < 1 or > 65535) yield return new("Bus:RabbitMq:Port must be 1..65535.");
        foreach (var node in RabbitMq.Hosts)
            if (RabbitMqOptions.ParseNode(node, RabbitMq.Port) is null) yield return new($"Bus:RabbitMq:Hosts: '{node}' is not host or host:port.");
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

    /// <summary>The nodes of a RabbitMQ cluster ("host" or "host:port"; Port when none given). Empty: Host and Port alone.
    /// The client connects to one of them and moves to another when that one goes away.</summary>
    public List<string> Hosts { get; set; } = [];

    /// <summary>Declare the controller's queues as quorum queues (replicated over the cluster's nodes, so that a node
    /// lost loses no message). A queue that exists already keeps its type: switch on a fresh virtual host.</summary>
    public bool QuorumQueues { get; set; }

    /// <summary>The nodes to use: <see cref="Hosts"/>, or Host:Port.</summary>
    public IReadOnlyList<(string Host, int Port)> Nodes() =>
        Hosts.Count == 0 ? [(Host, Port)] : Hosts.Select(h => ParseNode(h, Port)!.Value).ToList();

    public static (string Host, int Port)? ParseNode(string node, int defaultPort)
    {
        var colon = node.LastIndexOf(':');
        if (colon < 0) return string.IsNullOrWhiteSpace(node) ? null : (node.Trim(), defaultPort);
        return int.TryParse(node[(colon + 1)..], out var port) && port is > 0 and < 65536 && colon > 0 ? (node[..colon].Trim(), port) : null;
    }
}

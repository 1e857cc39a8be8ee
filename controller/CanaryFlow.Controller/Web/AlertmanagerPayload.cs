using System.Text.Json.Serialization;

namespace CanaryFlow.Controller.Web;

/// <summary>Alertmanager webhook body, version "4" (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).</summary>
public sealed record AlertmanagerPayload(
    [property: JsonPropertyName("version")] string? Version,
    [property: JsonPropertyName("groupKey")] string? GroupKey,
    [property: JsonPropertyName("truncatedAlerts")] int TruncatedAlerts,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("receiver")] string? Receiver,
    [property: JsonPropertyName("groupLabels")] Dictionary<string, string>? GroupLabels,
    [property: JsonPropertyName("commonLabels")] Dictionary<string, string>? CommonLabels,
    [property: JsonPropertyName("commonAnnotations")] Dictionary<string, string>? CommonAnnotations,
    [property: JsonPropertyName("externalURL")] string? ExternalUrl,
    [property: JsonPropertyName("alerts")] List<AlertmanagerAlert>? Alerts);

public sealed record AlertmanagerAlert(
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("labels")] Dictionary<string, string>? Labels,
    [property: JsonPropertyName("annotations")] Dictionary<string, string>? Annotations,
    [property: JsonPropertyName("startsAt")] DateTimeOffset? StartsAt,
    [property: JsonPropertyName("endsAt")] DateTimeOffset? EndsAt,
    [property: JsonPropertyName("generatorURL")] string? GeneratorUrl,
    [property: JsonPropertyName("fingerprint")] string? Fingerprint);

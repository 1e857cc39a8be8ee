using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Kubernetes.Model;

// The Canary custom resource (manifests/crd/canary.yaml), as read from the API server. Read-only views:
// the controller writes only status, and does so on the raw JSON so that unknown fields survive.

/// <param name="SpecError">Why the spec could not be read at all (a field of the wrong type); Spec is then null.</param>
public sealed record CanaryResource(CanaryMetadata Metadata, CanarySpec? Spec, JsonObject? Status, string? SpecError = null)
{
    public const string Group = "canaryflow.dev";
    public const string Version = "v1alpha1";
    public const string Plural = "canaries";
    public const string Kind = "Canary";
    public const string ApiVersion = Group + "/" + Version;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Namespace => Metadata.Namespace ?? "default";
    public string Name => Metadata.Name;
    public string TargetName => Spec?.TargetRef?.Name ?? "";
    public bool IsDeleting => Metadata.DeletionTimestamp is not null;
    public string? StatusString(string field) => Status?[field] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>Reads a custom object as the client returns it (a JsonElement, or anything serialisable). A spec that
    /// does not deserialise (say, a string where a number belongs) is kept as <see cref="SpecError"/>, never thrown:
    /// one bad Canary must not stop the watch of all the others.</summary>
    public static CanaryResource FromObject(object item)
    {
        var node = item switch
        {
            JsonElement e => JsonNode.Parse(e.GetRawText()),
            JsonNode n => n,
            _ => JsonSerializer.SerializeToNode(item, Json),
        } as JsonObject ?? throw new JsonException("a Canary must be a JSON object");
        var metadata = node["metadata"].Deserialize<CanaryMetadata>(Json) ?? throw new JsonException("a Canary must have metadata");
        var status = OwnTree(node["status"] as JsonObject);
        try
        {
            return new CanaryResource(metadata, node["spec"].Deserialize<CanarySpec>(Json), status);
        }
        catch (JsonException e)
        {
            return new CanaryResource(metadata, null, status, $"spec is malformed: {e.Message}");
        }
    }

    // A node read from a parsed document keeps the whole document (every byte of the Canary and its token table) until
    // it is changed; the watch keeps each Canary's status for as long as the Canary lives, so it gets a document of its
    // own: at 1,000 Canaries ~2 KB a Canary less (docs/benchmarks.md, 2026-12-04). Not DeepClone: its copy of a status
    // read from a document still held the whole document (checked: 20 statuses of 1 MB Canaries kept 24 MB either way).
    // The status is written and parsed once more for it, ~1 KB a Canary event.
    private static JsonObject? OwnTree(JsonObject? status) =>
        status is null ? null : JsonNode.Parse(JsonSerializer.SerializeToUtf8Bytes(status, Json)) as JsonObject;

    /// <summary>A Canary as the client parsed it (a <see cref="JsonElement"/>, maybe an item of a list page), copied into a
    /// tree of its own without the status field <paramref name="leaveOut"/> (the saga's state: the bulk of a Canary, read by
    /// the status store alone): neither the page nor that field is kept alive by the result.</summary>
    public static CanaryResource FromElement(JsonElement item, string? leaveOut)
    {
        if (item.ValueKind != JsonValueKind.Object) throw new JsonException("a Canary must be a JSON object");
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var p in item.EnumerateObject())
            {
                if (leaveOut is null || !p.NameEquals("status") || p.Value.ValueKind != JsonValueKind.Object) { p.WriteTo(w); continue; }
                w.WriteStartObject("status");
                foreach (var f in p.Value.EnumerateObject())
                    if (!f.NameEquals(leaveOut)) f.WriteTo(w);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return FromObject(JsonNode.Parse(buffer.WrittenSpan)!);
    }
}

public sealed record CanaryMetadata(string Name, string? Namespace, string? ResourceVersion, string? Uid, long? Generation,
    DateTimeOffset? DeletionTimestamp = null, IReadOnlyList<string>? Finalizers = null, IReadOnlyDictionary<string, string>? Labels = null);

public sealed record CanarySpec(
    TargetRef? TargetRef,
    ServiceSpec? Service,
    VirtualServiceRef? VirtualService,
    CanaryAnalysis? Analysis,
    ImagePolicySpec? ImagePolicy,
    IReadOnlyList<NotificationSpec>? Notifications,
    DestinationRuleRef? DestinationRule = null,
    bool? RevertOnDeletion = null,
    string? Provider = null,
    IReadOnlyList<CanaryHook>? Hooks = null,
    AutoscalerRef? AutoscalerRef = null);

/// <summary>The target's HorizontalPodAutoscaler (autoscaling/v2): the primary gets a copy of it.</summary>
public sealed record AutoscalerRef(string? Name, string? Kind = "HorizontalPodAutoscaler", string? ApiVersion = "autoscaling/v2");

/// <summary>A hook (see <see cref="CanaryFlow.Contracts.HookTypes"/>): <paramref name="Url"/>, or the built-in <paramref name="Load"/> generator.</summary>
public sealed record CanaryHook(string? Name, string? Type, string? Url, string? Timeout, IReadOnlyDictionary<string, string>? Metadata, CanaryLoad? Load);

public sealed record CanaryLoad(string? Url, int? RequestsPerSecond, string? Duration);

public sealed record TargetRef(string? Name, string? Kind = "Deployment", string? ApiVersion = "apps/v1");

public sealed record ServiceSpec(string? Name, int Port, IReadOnlyList<string>? Hosts, IReadOnlyList<string>? Gateways,
    IReadOnlyList<GatewayRef>? GatewayRefs = null);

/// <summary>A Gateway API parentRef for the HTTPRoute CanaryFlow creates (provider gatewayapi).</summary>
public sealed record GatewayRef(string? Name, string? Namespace = null, string? SectionName = null);

/// <param name="StableSubset">The subset (of the DestinationRule) whose route weight is the stable share; "stable" when absent.</param>
/// <param name="CanarySubset">The subset whose route weight is the canary share; "canary" when absent.</param>
public sealed record VirtualServiceRef(string? Name, string? StableSubset = null, string? CanarySubset = null);

/// <summary>The user's own DestinationRule: only the labels of the two named subsets are rewritten.</summary>
public sealed record DestinationRuleRef(string? Name);

public sealed record CanaryAnalysis(
    string? Interval,
    int? StepWeight,
    int? MaxWeight,
    IReadOnlyList<int>? Steps,
    int? FailureLimit,
    int? InconclusiveLimit,
    int? ErrorLimit,
    int? ProgressDeadlineSeconds,
    int? MinRequests,
    IReadOnlyList<CanaryMetric>? Metrics,
    CanaryComparison? Comparison,
    ApprovalSpec? Approval,
    string? Mode = null,
    string? MetricsOutageDeadline = null,
    CanarySequential? Sequential = null,
    IReadOnlyList<JsonObject>? Match = null,
    int? Iterations = null,
    SessionAffinitySpec? SessionAffinity = null,
    MirrorSpec? Mirror = null,
    bool? BlueGreen = null);

/// <summary>Mirroring: <c>iterations</c> checks on a mirrored copy of stable's traffic (<c>percentage</c> of it) before any weight moves.</summary>
public sealed record MirrorSpec(int? Iterations, double? Percentage);

/// <summary>spec.analysis.sequential: the tests' level, the tolerated regression, the tick and the early look after each
/// weight change, the hold of a step on strong evidence, and the latency test's floor (see docs/sequential-analysis.md).</summary>
public sealed record CanarySequential(double? Alpha, double? Tolerance, string? Tick, string? FirstLook = null, double? HoldAt = null, string? MaxHold = null,
    string? LatencyFloor = null);

/// <summary>Session affinity: a user the weights sent to the canary keeps a cookie that keeps them there (Flagger's).</summary>
public sealed record SessionAffinitySpec(string? CookieName, int? MaxAge);

/// <param name="TemplateRef">Where the query is kept instead (a MetricTemplate or ClusterMetricTemplate).</param>
/// <param name="Source">Not in the spec: the other Prometheus of a resolved template (Kubernetes/Templates).</param>
public sealed record CanaryMetric(string? Name, string? Query, ThresholdRange? ThresholdRange, TemplateRef? TemplateRef = null,
    [property: JsonIgnore] PrometheusSource? Source = null);

/// <param name="Kind">MetricTemplate (default) or ClusterMetricTemplate.</param>
public sealed record TemplateRef(string? Name, string? Namespace = null, string? Kind = null);

public sealed record ThresholdRange(double? Min, double? Max);

public sealed record CanaryComparison(double? Confidence, double? AllowedRelativeChange, double? PassScore, double? MarginalScore, bool? UseBaseline);

public sealed record ApprovalSpec(bool? BeforePromotion, IReadOnlyList<int>? AtWeights);

public sealed record ImagePolicySpec(string? Container, string? Repository, TagPolicySpec? TagPolicy);

public sealed record TagPolicySpec(string? Kind, string? Value);

public sealed record NotificationSpec(string? Channel, SecretRef? SecretRef);

public sealed record SecretRef(string? Name, string? Key);

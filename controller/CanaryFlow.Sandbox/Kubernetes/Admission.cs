using System.Text.Json.Nodes;
using YamlDotNet.Serialization;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// What the API server does with a custom object before storing it: validate it against the CRD's
/// structural schema and prune the fields the schema does not declare, then, unless a violation means the
/// object has not the shape the rules expect, evaluate the CRD's CEL rules (<see cref="CelRules"/>). Any
/// violation is a 422 Invalid naming every field. CanaryFlow's own kinds (Canary, MetricTemplate, ClusterMetricTemplate)
/// have their CRD's schema here; Deployments get the real server's rules of their selector (<see cref="DeploymentRules"/>);
/// other built-in kinds are stored as sent.
/// </summary>
public static class Admission
{
    private const string RulesNotChecked = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

    /// <summary>Each kind with a CRD, and the CRD file embedded in the sandbox (from manifests/crd).</summary>
    private static readonly Dictionary<ResourceKind, Lazy<(JsonObject Schema, CelRules Rules)>> Crds = new()
    {
        [ResourceKinds.Canaries] = new(() => LoadCrd("canary-crd.yaml", ResourceKinds.Canaries)),
        [ResourceKinds.MetricTemplates] = new(() => LoadCrd("metrictemplate-crd.yaml", ResourceKinds.MetricTemplates)),
        [ResourceKinds.ClusterMetricTemplates] = new(() => LoadCrd("clustermetrictemplate-crd.yaml", ResourceKinds.ClusterMetricTemplates)),
    };

    /// <summary>Loads the CRDs now (the server calls it at start-up), so that a rule the sandbox cannot
    /// apply stops the server instead of being skipped. Returns how many rules they have.</summary>
    public static int LoadRules() => Crds.Values.Sum(c => c.Value.Rules.Count);

    /// <param name="old">The stored object on an update or a status write; null on a create.</param>
    public static void Check(ResourceKind kind, string name, JsonObject obj, JsonObject? old = null)
    {
        if (kind == ResourceKinds.Deployments) { DeploymentRules.Check(name, obj, old); return; }
        if (!Crds.TryGetValue(kind, out var crd)) return;
        var (schema, rules) = crd.Value;
        var schemaErrors = OpenApiSchemaValidator.ValidateDetailed(obj, schema, prune: true);
        var causes = schemaErrors.Select(e => new StatusCause(e.Path.StartsWith("$.") ? e.Path[2..] : e.Path, e.Message)).ToList();
        if (schemaErrors.Any(e => e.Blocking)) causes.Add(new StatusCause("", $"Invalid value: \"null\": {RulesNotChecked}"));
        else causes.AddRange(rules.Validate(obj, old));
        if (causes.Count > 0) throw ApiError.Invalid(kind, name, causes);
    }

    private static (JsonObject, CelRules) LoadCrd(string resource, ResourceKind kind)
    {
        using var stream = typeof(Admission).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the {kind.Kind} CRD is not embedded in the sandbox");
        using var reader = new StreamReader(stream);
        var yaml = new DeserializerBuilder().Build().Deserialize(reader);
        var json = JsonNode.Parse(new SerializerBuilder().JsonCompatible().Build().Serialize(yaml))!;
        var version = json["spec"]!["versions"]!.AsArray().First(v => (string?)v!["name"] == kind.Version)!;
        var schema = Numbers((JsonObject)version["schema"]!["openAPIV3Schema"]!);
        return (schema, CelRules.Compile(schema));
    }

    // YAML scalars arrive as strings ("1", "true"): give schema keywords their JSON types back.
    private static JsonObject Numbers(JsonObject schema)
    {
        foreach (var (key, value) in schema.ToList())
        {
            switch (value)
            {
                case JsonObject o: Numbers(o); break;
                case JsonArray a: foreach (var item in a.OfType<JsonObject>()) Numbers(item); break;
                case JsonValue v when v.TryGetValue<string>(out var text):
                    if (key is "minimum" or "maximum" && double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var d)) schema[key] = d;
                    else if (key is "minLength" or "maxLength" or "minItems" or "maxItems" or "maxProperties" && int.TryParse(text, out var n)) schema[key] = n;
                    else if (key is "nullable" or "x-kubernetes-preserve-unknown-fields" or "x-kubernetes-int-or-string" && bool.TryParse(text, out var b)) schema[key] = b;
                    break;
            }
        }
        return schema;
    }
}

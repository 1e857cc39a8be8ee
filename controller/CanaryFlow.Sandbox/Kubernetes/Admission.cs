using System.Text.Json.Nodes;
using YamlDotNet.Serialization;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// What the API server does with a custom object before storing it: validate it against the CRD's
/// structural schema and prune the fields the schema does not declare, then, unless a violation means the
/// object has not the shape the rules expect, evaluate the CRD's CEL rules (<see cref="CelRules"/>). Any
/// violation is a 422 Invalid naming every field. Only the Canary has a schema here; built-in kinds are stored as sent.
/// </summary>
public static class Admission
{
    private const string RulesNotChecked = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

    private static readonly Lazy<(JsonObject Schema, CelRules Rules)> Canary = new(LoadCanaryCrd);

    /// <summary>Loads the Canary CRD now (the server calls it at start-up), so that a rule the sandbox cannot
    /// apply stops the server instead of being skipped.</summary>
    public static int LoadRules() => Canary.Value.Rules.Count;

    /// <param name="old">The stored object on an update or a status write; null on a create.</param>
    public static void Check(ResourceKind kind, string name, JsonObject obj, JsonObject? old = null)
    {
        if (kind != ResourceKinds.Canaries) return;
        var (schema, rules) = Canary.Value;
        var schemaErrors = OpenApiSchemaValidator.ValidateDetailed(obj, schema, prune: true);
        var causes = schemaErrors.Select(e => new StatusCause(e.Path.StartsWith("$.") ? e.Path[2..] : e.Path, e.Message)).ToList();
        if (schemaErrors.Any(e => e.Blocking)) causes.Add(new StatusCause("", $"Invalid value: \"null\": {RulesNotChecked}"));
        else causes.AddRange(rules.Validate(obj, old));
        if (causes.Count > 0) throw ApiError.Invalid(kind, name, causes);
    }

    private static (JsonObject, CelRules) LoadCanaryCrd()
    {
        using var stream = typeof(Admission).Assembly.GetManifestResourceStream("canary-crd.yaml")
            ?? throw new InvalidOperationException("the Canary CRD is not embedded in the sandbox");
        using var reader = new StreamReader(stream);
        var yaml = new DeserializerBuilder().Build().Deserialize(reader);
        var json = JsonNode.Parse(new SerializerBuilder().JsonCompatible().Build().Serialize(yaml))!;
        var version = json["spec"]!["versions"]!.AsArray().First(v => (string?)v!["name"] == ResourceKinds.Canaries.Version)!;
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
                    else if (key is "minLength" or "maxLength" or "minItems" or "maxItems" && int.TryParse(text, out var n)) schema[key] = n;
                    else if (key is "nullable" or "x-kubernetes-preserve-unknown-fields" or "x-kubernetes-int-or-string" && bool.TryParse(text, out var b)) schema[key] = b;
                    break;
            }
        }
        return schema;
    }
}

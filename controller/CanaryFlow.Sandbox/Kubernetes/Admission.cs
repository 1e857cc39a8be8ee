using System.Text.Json.Nodes;
using YamlDotNet.Serialization;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// What the API server does with a custom object before storing it: validate it against the CRD's
/// structural schema (422 Invalid with every violation) and prune the fields the schema does not declare.
/// Only the Canary has a schema here; built-in kinds are stored as sent.
/// </summary>
public static class Admission
{
    private static readonly Lazy<JsonObject> CanarySchema = new(LoadCanarySchema);

    public static void Check(ResourceKind kind, string name, JsonObject obj)
    {
        if (kind != ResourceKinds.Canaries) return;
        var errors = OpenApiSchemaValidator.Validate(obj, CanarySchema.Value, prune: true);
        if (errors.Count > 0) throw ApiError.Invalid(kind, name, string.Join("; ", errors));
    }

    private static JsonObject LoadCanarySchema()
    {
        using var stream = typeof(Admission).Assembly.GetManifestResourceStream("canary-crd.yaml")
            ?? throw new InvalidOperationException("the Canary CRD is not embedded in the sandbox");
        using var reader = new StreamReader(stream);
        var yaml = new DeserializerBuilder().Build().Deserialize(reader);
        var json = JsonNode.Parse(new SerializerBuilder().JsonCompatible().Build().Serialize(yaml))!;
        var version = json["spec"]!["versions"]!.AsArray().First(v => (string?)v!["name"] == ResourceKinds.Canaries.Version)!;
        return Numbers((JsonObject)version["schema"]!["openAPIV3Schema"]!);
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

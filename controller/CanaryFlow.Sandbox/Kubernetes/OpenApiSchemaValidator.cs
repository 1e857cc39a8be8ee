using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// Checks a document against the subset of OpenAPI v3 that CRD structural schemas use: type, properties,
/// required, items, enum, minimum/maximum, minLength/maxLength, minItems/maxItems, pattern,
/// additionalProperties, x-kubernetes-preserve-unknown-fields and x-kubernetes-int-or-string.
/// Fields the schema does not declare are errors, as with <c>kubectl apply --validate=strict</c>, or,
/// with <paramref name="prune"/>, removed, as the API server does when it stores a custom object.
/// CEL rules (<c>x-kubernetes-validations</c>) are <see cref="CelRules"/>' part.
/// </summary>
public static class OpenApiSchemaValidator
{
    public static IReadOnlyList<string> Validate(JsonNode? value, JsonObject schema, bool prune = false) =>
        [.. ValidateDetailed(value, schema, prune).Select(e => e.ToString())];

    /// <summary>The violations, each marked when it blocks CEL evaluation as on the API server (a wrong type, a
    /// missing required field, a value outside an enum, too long or too many: the object has not the shape the
    /// rules were written for).</summary>
    public static IReadOnlyList<SchemaError> ValidateDetailed(JsonNode? value, JsonObject schema, bool prune = false)
    {
        var errors = new List<SchemaError>();
        Check(value, schema, "$", errors, prune);
        return errors;
    }

    private static void Check(JsonNode? value, JsonObject schema, string at, List<SchemaError> errors, bool prune)
    {
        if (value is null)
        {
            // The API server drops a null where the schema does not allow one (pruning), rather than refusing it.
            if (schema["nullable"]?.GetValue<bool>() != true && !prune) errors.Add(new(at, "null is not allowed", Blocking: true));
            return;
        }
        if (schema["x-kubernetes-int-or-string"]?.GetValue<bool>() == true)
        {
            if (!IsInteger(value) && !IsString(value)) errors.Add(WrongType(value, at, "integer or string"));
            return;
        }
        var type = schema["type"]?.GetValue<string>();
        switch (type)
        {
            case "object": CheckObject(value, schema, at, errors, prune); break;
            case "array": CheckArray(value, schema, at, errors, prune); break;
            case "string":
                if (!IsString(value)) { errors.Add(WrongType(value, at, "string")); return; }
                CheckString(value.GetValue<string>(), schema, at, errors);
                break;
            case "integer":
                if (!IsInteger(value)) { errors.Add(WrongType(value, at, "integer")); return; }
                CheckRange(Number(value), schema, at, errors);
                break;
            case "number":
                if (!IsNumber(value)) { errors.Add(WrongType(value, at, "number")); return; }
                CheckRange(Number(value), schema, at, errors);
                break;
            case "boolean":
                if (value is not JsonValue b || !b.TryGetValue<bool>(out _)) errors.Add(WrongType(value, at, "boolean"));
                break;
            case null:
                break;
            default:
                errors.Add(new(at, $"the schema uses type '{type}', which this validator does not know", Blocking: true));
                break;
        }
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
            errors.Add(new(at, $"Unsupported value: {value.ToJsonString()}: supported values: {string.Join(", ", allowed.Select(a => a!.ToJsonString()))}", Blocking: true));
    }

    private static void CheckObject(JsonNode value, JsonObject schema, string at, List<SchemaError> errors, bool prune)
    {
        if (value is not JsonObject obj) { errors.Add(WrongType(value, at, "object")); return; }
        if (schema["maxProperties"] is { } maxProperties && obj.Count > Number(maxProperties))
            errors.Add(new(at, $"Too many: {obj.Count}: must have at most {maxProperties} items", Blocking: true));
        if (schema["required"] is JsonArray required)
            foreach (var name in required.Select(r => r!.GetValue<string>()))
                if (!obj.ContainsKey(name)) errors.Add(new($"{at}.{name}", "Required value", Blocking: true));
        var properties = schema["properties"] as JsonObject;
        var preserve = schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true;
        var pruned = new List<string>();
        foreach (var (name, child) in obj)
        {
            if (prune && child is null && properties?[name] is JsonObject { } p && p["nullable"]?.GetValue<bool>() != true) { pruned.Add(name); continue; }
            // The API server itself owns apiVersion, kind and metadata at the root of every custom object.
            if (at == "$" && name is "apiVersion" or "kind" or "metadata") continue;
            if (properties?[name] is JsonObject propertySchema) Check(child, propertySchema, $"{at}.{name}", errors, prune);
            else if (schema["additionalProperties"] is JsonObject additional) Check(child, additional, $"{at}.{name}", errors, prune);
            else if (properties is null && (preserve || schema["additionalProperties"] is null && at == "$.metadata")) continue;
            else if (!preserve && prune) pruned.Add(name);
            else if (!preserve) errors.Add(new(at, $"unknown field '{name}'", Blocking: false));
        }
        foreach (var name in pruned) obj.Remove(name);
    }

    private static void CheckArray(JsonNode value, JsonObject schema, string at, List<SchemaError> errors, bool prune)
    {
        if (value is not JsonArray array) { errors.Add(WrongType(value, at, "array")); return; }
        if (schema["minItems"] is { } min && array.Count < Number(min)) errors.Add(new(at, $"Invalid value: {array.Count}: {Field(at)} in body should have at least {min} items", Blocking: false));
        if (schema["maxItems"] is { } max && array.Count > Number(max)) errors.Add(new(at, $"Too many: {array.Count}: must have at most {max} items", Blocking: true));
        if (schema["items"] is JsonObject items)
            for (var i = 0; i < array.Count; i++) Check(array[i], items, $"{at}[{i}]", errors, prune);
    }

    private static void CheckString(string text, JsonObject schema, string at, List<SchemaError> errors)
    {
        if (schema["minLength"] is { } min && text.Length < Number(min)) errors.Add(new(at, $"Invalid value: {JsonValue.Create(text).ToJsonString()}: {Field(at)} in body should be at least {min} chars long", Blocking: false));
        if (schema["maxLength"] is { } max && text.Length > Number(max)) errors.Add(new(at, $"Too long: may not be longer than {max}", Blocking: true));
        if (schema["pattern"] is { } pattern && !Regex.IsMatch(text, pattern.GetValue<string>(), RegexOptions.None, TimeSpan.FromSeconds(1)))
            errors.Add(new(at, $"Invalid value: {JsonValue.Create(text).ToJsonString()}: {Field(at)} in body should match '{pattern}'", Blocking: false));
    }

    private static void CheckRange(double number, JsonObject schema, string at, List<SchemaError> errors)
    {
        if (schema["minimum"] is { } min && number < Number(min)) errors.Add(new(at, $"Invalid value: {Go(number)}: {Field(at)} in body should be greater than or equal to {Go(Number(min))}", Blocking: false));
        if (schema["maximum"] is { } max && number > Number(max)) errors.Add(new(at, $"Invalid value: {Go(number)}: {Field(at)} in body should be less than or equal to {Go(Number(max))}", Blocking: false));
    }

    // The API server's own wording (k8s.io/kube-openapi validate errors), so that a client sees the same message from both.
    private static SchemaError WrongType(JsonNode value, string at, string type) =>
        new(at, $"Invalid value: \"{JsonType(value)}\": {Field(at)} in body must be of type {type}: \"{JsonType(value)}\"", Blocking: true);

    private static string JsonType(JsonNode n) => n.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.String => "string",
        System.Text.Json.JsonValueKind.Number => IsInteger(n) ? "integer" : "number",
        System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "boolean",
        System.Text.Json.JsonValueKind.Array => "array",
        _ => "object",
    };

    private static string Field(string at) => at.StartsWith("$.", StringComparison.Ordinal) ? at[2..] : at;

    private static string Go(double d) => d.ToString("R", CultureInfo.InvariantCulture);

    private static bool IsString(JsonNode n) => n.GetValueKind() == System.Text.Json.JsonValueKind.String;

    private static bool IsNumber(JsonNode n) => n.GetValueKind() == System.Text.Json.JsonValueKind.Number;

    private static bool IsInteger(JsonNode n) => IsNumber(n) && Number(n) is var d && Math.Floor(d) == d;

    // Whatever CLR type holds the number (int, long, double, JsonElement), read it from its JSON text.
    private static double Number(JsonNode n) => double.Parse(n.ToJsonString(), CultureInfo.InvariantCulture);
}

/// <param name="Blocking">True for the violations after which the API server does not evaluate CEL rules.</param>
public sealed record SchemaError(string Path, string Message, bool Blocking)
{
    public override string ToString() => $"{Path}: {Message}";
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Cel;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// A CRD's CEL rules (<c>x-kubernetes-validations</c>), applied as the API server applies them: each rule is
/// evaluated with <c>self</c> bound to the value at its schema node, wherever that value is present, and a rule
/// that is false refuses the object with its <c>message</c> at the node's field path. Updates ratchet (Kubernetes
/// 1.30+): a rule is not evaluated on a value that did not change, reached through object fields, so a status write
/// never trips a rule under spec. Lists are atomic (their items are never matched to old ones). Transition rules
/// (<c>oldSelf</c>) run only where there is an old value.
/// Rules are compiled when the CRD is loaded: a rule that does not parse, or that uses a field of
/// x-kubernetes-validations the sandbox does not apply (messageExpression, fieldPath, reason, optionalOldSelf),
/// refuses the CRD, so that no test relies on a rule nobody checks. A rule that fails at evaluation (an unknown
/// function, a type mismatch) refuses the object, as the API server does.
/// </summary>
public sealed class CelRules
{
    private static readonly HashSet<string> Supported = ["rule", "message"];

    private sealed record Rule(string Text, string? Message, bool Transition, CelProgramDelegate Program);

    private readonly JsonObject _schema;
    private readonly Dictionary<JsonObject, IReadOnlyList<Rule>> _rules;

    private CelRules(JsonObject schema, Dictionary<JsonObject, IReadOnlyList<Rule>> rules) => (_schema, _rules) = (schema, rules);

    public int Count => _rules.Values.Sum(r => r.Count);

    /// <exception cref="InvalidOperationException">A rule does not compile or uses what the sandbox does not apply.</exception>
    public static CelRules Compile(JsonObject schema)
    {
        var rules = new Dictionary<JsonObject, IReadOnlyList<Rule>>(ReferenceEqualityComparer.Instance);
        var environment = new CelEnvironment(null, null);
        CompileAt(schema, "", environment, rules);
        return new CelRules(schema, rules);
    }

    /// <summary>The rule violations of <paramref name="value"/>, as the API server's causes.</summary>
    /// <param name="old">The stored object on an update (ratcheting and <c>oldSelf</c>); null on a create.</param>
    public IReadOnlyList<StatusCause> Validate(JsonObject value, JsonObject? old)
    {
        var errors = new List<StatusCause>();
        Walk(value, _schema, "", old, old is not null, errors);
        return errors;
    }

    private static void CompileAt(JsonObject schema, string path, CelEnvironment environment, Dictionary<JsonObject, IReadOnlyList<Rule>> rules)
    {
        if (schema["x-kubernetes-validations"] is JsonArray list)
        {
            var compiled = new List<Rule>();
            foreach (var entry in list.OfType<JsonObject>())
            {
                var text = (string?)entry["rule"] ?? throw Refused(path, "(none)", "a rule needs 'rule'");
                if (entry.Select(p => p.Key).FirstOrDefault(k => !Supported.Contains(k)) is { } unsupported)
                    throw Refused(path, text, $"'{unsupported}' is not applied by the sandbox");
                try { compiled.Add(new Rule(text, (string?)entry["message"], text.Contains("oldSelf"), environment.Compile(text))); }
                catch (CelException e) { throw Refused(path, text, e.Message); }
            }
            rules[schema] = compiled;
        }
        foreach (var (name, child) in schema["properties"] as JsonObject ?? [])
            if (child is JsonObject c) CompileAt(c, Join(path, name), environment, rules);
        if (schema["items"] is JsonObject items) CompileAt(items, path + "[*]", environment, rules);
        if (schema["additionalProperties"] is JsonObject additional) CompileAt(additional, path + "[*]", environment, rules);
    }

    private static InvalidOperationException Refused(string path, string rule, string why) =>
        new($"x-kubernetes-validations at {(path.Length == 0 ? "the root" : path)}: rule \"{rule}\" is refused: {why}");

    private void Walk(JsonNode? value, JsonObject schema, string path, JsonNode? old, bool correlated, List<StatusCause> errors)
    {
        if (value is null) return;
        var unchanged = correlated && JsonNode.DeepEquals(value, old);
        if (!unchanged && _rules.TryGetValue(schema, out var rules))
            foreach (var rule in rules) Evaluate(rule, value, schema, path, correlated ? old : null, errors);

        if (value is JsonObject obj)
        {
            var properties = schema["properties"] as JsonObject;
            var oldObject = correlated ? old as JsonObject : null;
            foreach (var (name, child) in obj)
            {
                if (path.Length == 0 && name is "apiVersion" or "kind" or "metadata") continue; // owned by the API server
                if ((properties?[name] ?? schema["additionalProperties"]) is not JsonObject childSchema) continue;
                // A map's entries are named as the API server names them: headers[x-user], not headers.x-user.
                var at = properties?[name] is null ? $"{path}[{name}]" : Join(path, name);
                Walk(child, childSchema, at, oldObject?[name], oldObject?.ContainsKey(name) == true, errors);
            }
        }
        else if (value is JsonArray array && schema["items"] is JsonObject items)
            for (var i = 0; i < array.Count; i++) Walk(array[i], items, $"{path}[{i}]", null, correlated: false, errors);
    }

    private static void Evaluate(Rule rule, JsonNode value, JsonObject schema, string path, JsonNode? old, List<StatusCause> errors)
    {
        if (rule.Transition && old is null) return; // a transition rule has nothing to compare with
        var type = (string?)schema["type"] ?? "object";
        var variables = new Dictionary<string, object?> { ["self"] = ToCel(value, schema) };
        if (rule.Transition) variables["oldSelf"] = ToCel(old, schema);
        var label = (rule.Message ?? rule.Text).Trim();
        try
        {
            var result = rule.Program(variables);
            if (result is true) return;
            var message = result is false ? rule.Message?.Trim() ?? $"failed rule: {label}" : $"{label}: the rule did not give a boolean but {result ?? "null"}";
            errors.Add(Invalid(path, type, message));
        }
        catch (Exception e) when (e is CelException or InvalidCastException or NullReferenceException or ArgumentException)
        {
            errors.Add(Invalid(path, type, $"{label}: {e.Message}"));
        }
    }

    /// <summary>JSON to the values CEL sees: integers as int, numbers as double (by the schema's type, as
    /// Kubernetes types them), objects as maps, arrays as lists.</summary>
    private static object? ToCel(JsonNode? node, JsonObject? schema) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key,
            p => ToCel(p.Value, (schema?["properties"]?[p.Key] ?? schema?["additionalProperties"]) as JsonObject)),
        JsonArray a => a.Select(i => ToCel(i, schema?["items"] as JsonObject)).ToList(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when (string?)schema?["type"] != "number" && long.TryParse(v.ToJsonString(), out var l) => l,
            JsonValueKind.Number => double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        },
        _ => null,
    };

    // As the API server words a rule's failure: spec.analysis: Invalid value: "object": <message>.
    private static StatusCause Invalid(string path, string type, string message) => new(path, $"Invalid value: \"{type}\": {message}");

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}

using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>An API failure carried as a v1 Status, exactly the body shape the real server sends.</summary>
public sealed class ApiError(int code, string reason, string message, JsonObject? details = null) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
    public JsonObject? Details { get; } = details;

    public JsonObject ToStatus()
    {
        var status = StatusBodies.Status(Code, Reason, Message);
        if (Details is not null) status["details"] = Details.DeepClone();
        return status;
    }

    public static ApiError NotFound(ResourceKind kind, string name) =>
        new(404, "NotFound", $"{kind.QualifiedName} \"{name}\" not found");

    public static ApiError AlreadyExists(ResourceKind kind, string name) =>
        new(409, "AlreadyExists", $"{kind.QualifiedName} \"{name}\" already exists");

    public static ApiError Conflict(ResourceKind kind, string name) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {kind.QualifiedName} \"{name}\": the object has been modified; please apply your changes to the latest version and try again");

    public static ApiError BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiError Invalid(ResourceKind kind, string name, string message) =>
        new(422, "Invalid", $"{kind.GroupKind} \"{name}\" is invalid: {message}");

    /// <summary>422 as the API server words it: one cause as is, several in brackets; each also in details.causes.</summary>
    public static ApiError Invalid(ResourceKind kind, string name, IReadOnlyList<StatusCause> causes)
    {
        var text = causes.Count == 1 ? causes[0].ToString() : $"[{string.Join(", ", causes)}]";
        var details = new JsonObject
        {
            ["name"] = name, ["group"] = kind.Group, ["kind"] = kind.Kind,
            ["causes"] = new JsonArray([.. causes.Select(c => (JsonNode)new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = c.Message, ["field"] = c.Field })]),
        };
        return new(422, "Invalid", $"{kind.GroupKind} \"{name}\" is invalid: {text}", details);
    }

    public static ApiError Gone(string message) => new(410, "Expired", message);
}

/// <summary>One entry of a Status's details.causes: the field (empty for the whole object) and what is wrong with it.</summary>
public sealed record StatusCause(string Field, string Message)
{
    public override string ToString() => $"{(Field.Length == 0 ? "<nil>" : Field)}: {Message}";
}

public static class StatusBodies
{
    public static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = code < 300 ? "Success" : "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };
}

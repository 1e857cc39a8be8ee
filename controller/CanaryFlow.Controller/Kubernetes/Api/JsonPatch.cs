using System.Text.Json.Nodes;

namespace CanaryFlow.Controller.Kubernetes.Api;

/// <summary>JSON patch (RFC 6902) operations, as sent with <c>application/json-patch+json</c>.</summary>
public static class JsonPatch
{
    /// <summary>A patch that applies only to the version read: setting the resourceVersion read makes the API server
    /// answer 409 when the object changed since, so indices computed from that version can never hit the wrong item.</summary>
    public static JsonArray Conditional(JsonNode? resourceVersion) => [Replace("/metadata/resourceVersion", resourceVersion?.DeepClone())];

    /// <summary>"add" sets a member whether or not it exists (and appends to an array at "/-").</summary>
    public static JsonObject Add(string path, JsonNode? value) => Op("add", path, value);

    public static JsonObject Replace(string path, JsonNode? value) => Op("replace", path, value);

    /// <summary>Fails the whole patch unless the value at the path is as given.</summary>
    public static JsonObject Test(string path, JsonNode? value) => Op("test", path, value);

    public static JsonObject Remove(string path) => new() { ["op"] = "remove", ["path"] = path };

    private static JsonObject Op(string op, string path, JsonNode? value) => new() { ["op"] = op, ["path"] = path, ["value"] = value };
}

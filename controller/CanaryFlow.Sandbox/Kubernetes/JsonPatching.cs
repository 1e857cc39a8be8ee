using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>RFC 7386 merge patch and RFC 6902 JSON patch on JSON trees. Strategic merge patch is served as
/// a merge patch: for the fields the controller patches (scalars, maps) the two agree.</summary>
public static class JsonPatching
{
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target as JsonObject is { } t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null) result.Remove(key);
            else result[key] = MergePatch(result[key], value);
        }
        return result;
    }

    /// <exception cref="ApiError">422 when an operation cannot apply (missing path, failed test).</exception>
    public static JsonNode ApplyJsonPatch(JsonNode document, JsonArray operations)
    {
        var root = new JsonObject { ["doc"] = document.DeepClone() };
        foreach (var opNode in operations)
        {
            if (opNode is not JsonObject op) throw Unprocessable("each operation must be an object");
            var kind = (string?)op["op"] ?? throw Unprocessable("missing op");
            var path = "/doc" + ((string?)op["path"] ?? throw Unprocessable("missing path"));
            switch (kind)
            {
                case "add": Add(root, path, Value(op)); break;
                case "remove": Remove(root, path); break;
                case "replace": Remove(root, path); Add(root, path, Value(op)); break;
                case "move":
                {
                    var from = "/doc" + (string?)op["from"];
                    var moved = Get(root, from).DeepClone();
                    Remove(root, from);
                    Add(root, path, moved);
                    break;
                }
                case "copy": Add(root, path, Get(root, "/doc" + (string?)op["from"]).DeepClone()); break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(root, path), op["value"]))
                        throw Unprocessable($"test failed at {op["path"]}");
                    break;
                default: throw Unprocessable($"unknown op {kind}");
            }
        }
        return root["doc"] ?? throw Unprocessable("the patch removed the whole document");
    }

    private static JsonNode? Value(JsonObject op) =>
        op.TryGetPropertyValue("value", out var v) ? v?.DeepClone() : throw Unprocessable("missing value");

    private static ApiError Unprocessable(string message) => new(422, "Invalid", $"the server rejected our request due to an error in our request: {message}");

    private static (JsonNode Parent, string Token) Parent(JsonObject root, string pointer)
    {
        var tokens = pointer.Split('/').Skip(1).Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();
        JsonNode current = root;
        foreach (var token in tokens[..^1]) current = Child(current, token) ?? throw Unprocessable($"path {pointer} does not exist");
        return (current, tokens[^1]);
    }

    private static JsonNode? Child(JsonNode node, string token) => node switch
    {
        JsonObject o => o[token],
        JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count => a[i],
        _ => null,
    };

    private static JsonNode Get(JsonObject root, string pointer)
    {
        var (parent, token) = Parent(root, pointer);
        return Child(parent, token) ?? throw Unprocessable($"path {pointer[4..]} does not exist");
    }

    private static void Add(JsonObject root, string pointer, JsonNode? value)
    {
        var (parent, token) = Parent(root, pointer);
        switch (parent)
        {
            case JsonObject o: o[token] = value; break;
            case JsonArray a when token == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(token, out var i) && i >= 0 && i <= a.Count: a.Insert(i, value); break;
            default: throw Unprocessable($"cannot add at {pointer[4..]}");
        }
    }

    private static void Remove(JsonObject root, string pointer)
    {
        var (parent, token) = Parent(root, pointer);
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(token): o.Remove(token); break;
            case JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count: a.RemoveAt(i); break;
            default: throw Unprocessable($"path {pointer[4..]} does not exist");
        }
    }
}

using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// The real API server holds custom objects (CRD-backed: Canaries, Istio's kinds) as unstructured maps and writes
/// them back with every object's keys in sorted order, whatever order the client sent; built-in kinds keep their
/// Go struct's field order. The sandbox stores custom objects the same way, so clients see the same bytes.
/// </summary>
public static class Unstructured
{
    public static bool IsCustom(ResourceKind kind) => kind.Group is ResourceKinds.CanaryGroup || kind.Group.EndsWith(".istio.io", StringComparison.Ordinal);

    /// <summary>A copy with the keys of every object sorted ordinally (Go's encoding of map[string]interface{}).</summary>
    public static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Sorted)]),
        null => null,
        _ => node.DeepClone(),
    };
}

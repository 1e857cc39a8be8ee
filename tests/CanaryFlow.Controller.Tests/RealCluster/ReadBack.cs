using System.Text.Json.Nodes;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using CanaryFlow.Controller.Tests.Observability;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// Reads back from the server every object of an applied file (<c>kubectl get -f FILE -o json</c>) and compares
/// each with the document as written: every field the file sets must be there with the same value. The server may
/// add fields (defaults, status, metadata), but may not drop, rename or change any: that would be a field the real
/// API server prunes or refuses, which a sandbox does not notice.
/// </summary>
public static class ReadBack
{
    /// <returns>One line per document whose read-back differs, naming the field; empty when all match.</returns>
    public static async Task<IReadOnlyList<string>> DifferencesAsync(RealControlPlane plane, string file, string? text = null)
    {
        text ??= await File.ReadAllTextAsync(file);
        var written = RenderedManifests.Split(Path.GetFileName(file), text);
        var (code, output) = await plane.KubectlAsync("get", "-f", file, "-o", "json");
        if (code != 0) return [$"kubectl get -f {file} failed: {output}"];
        var items = JsonNode.Parse(output)!["items"]?.AsArray() ?? new JsonArray(JsonNode.Parse(output));
        if (items.Count != written.Count) return [$"{written.Count} documents written, {items.Count} read back"];
        var differences = new List<string>();
        for (var i = 0; i < written.Count; i++)
            foreach (var d in Differences(AsStored(written[i].Json), items[i], ""))
                differences.Add($"{written[i]}: {d}");
        return differences;
    }

    /// <summary>A Secret's <c>stringData</c> is write-only: the API server stores it, base64-encoded, in <c>data</c>.</summary>
    private static JsonObject AsStored(JsonObject written)
    {
        if (written["kind"]?.GetValue<string>() != "Secret" || written["stringData"] is not JsonObject plain) return written;
        var stored = written.DeepClone().AsObject();
        stored.Remove("stringData");
        var data = stored["data"] as JsonObject ?? (JsonObject)(stored["data"] = new JsonObject());
        foreach (var (key, value) in plain) data[key] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value?.GetValue<string>() ?? ""));
        return stored;
    }

    /// <summary>Fields of <paramref name="expected"/> that <paramref name="actual"/> lacks or holds another value in.</summary>
    public static IEnumerable<string> Differences(JsonNode? expected, JsonNode? actual, string path)
    {
        switch (expected)
        {
            case null:
                yield break; // "key: ~" sets nothing
            case JsonObject e:
                if (actual is not JsonObject o) { yield return $"{path}: expected an object, read back {Show(actual)}"; yield break; }
                foreach (var (key, value) in e)
                    foreach (var d in Differences(value, o[key], $"{path}.{key}")) yield return d;
                break;
            case JsonArray e:
                if (actual is not JsonArray a || a.Count != e.Count) { yield return $"{path}: expected {e.Count} items, read back {Show(actual)}"; yield break; }
                for (var i = 0; i < e.Count; i++)
                    foreach (var d in Differences(e[i], a[i], $"{path}[{i}]")) yield return d;
                break;
            default:
                // Scalars compare by their text: the server keeps quantities and strings as written ("100m", "00:00:02").
                if (actual is null || actual is JsonObject or JsonArray || Scalar(expected) != Scalar(actual))
                    yield return $"{path}: wrote {Show(expected)}, read back {Show(actual)}";
                break;
        }
    }

    private static string Scalar(JsonNode n) => n.GetValueKind() == System.Text.Json.JsonValueKind.String ? n.GetValue<string>() : n.ToJsonString();
    private static string Show(JsonNode? n) => n is null ? "nothing" : n.ToJsonString();
}

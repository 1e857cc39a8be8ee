using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CanaryFlow.Controller.Tests.Infrastructure;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CanaryFlow.Controller.Tests.Observability;

/// <summary>One YAML document of a rendered file: its text (for KubernetesClient) and its JSON form (for schemas).</summary>
public sealed record ManifestDocument(string File, string Yaml, JsonObject Json)
{
    public string ApiVersion => Json["apiVersion"]?.GetValue<string>() ?? "";
    public string Kind => Json["kind"]?.GetValue<string>() ?? "";
    public string Name => Json["metadata"]?["name"]?.GetValue<string>() ?? "";
    public override string ToString() => $"{File}: {Kind} {Name}";
}

/// <summary>
/// The chart rendered by .ci/render-manifests.sh (real Helm) into .ci-work/rendered/, plus the examples.
/// When the folder is missing the script is run first (bounded to five minutes).
/// </summary>
public static partial class RenderedManifests
{
    public static string Folder => Path.Combine(RepositoryRoot.Path, ".ci-work", "rendered");

    private static readonly Lazy<IReadOnlyDictionary<string, IReadOnlyList<ManifestDocument>>> Files = new(Load);

    public static IReadOnlyList<ManifestDocument> In(string file) => Files.Value[file];

    /// <summary>The raw text of a rendered file (rendering first when needed).</summary>
    public static string Text(string file) => Files.Value.ContainsKey(file) ? File.ReadAllText(Path.Combine(Folder, file)) : throw new FileNotFoundException(file);

    public static IEnumerable<ManifestDocument> All => Files.Value.Values.SelectMany(d => d);

    private static IReadOnlyDictionary<string, IReadOnlyList<ManifestDocument>> Load()
    {
        var rendered = new FileInfo(Path.Combine(Folder, "default.yaml"));
        var sources = new[] { "helm", "examples" }.Select(d => Path.Combine(RepositoryRoot.Path, "manifests", d))
            .SelectMany(d => Directory.GetFiles(d, "*", SearchOption.AllDirectories));
        // Missing, or older than the chart or the examples: render again.
        if (!rendered.Exists || sources.Any(f => File.GetLastWriteTimeUtc(f) > rendered.LastWriteTimeUtc)) Render();
        return Directory.GetFiles(Folder, "*.yaml").ToDictionary(f => Path.GetFileName(f)!, f => Split(Path.GetFileName(f)!, File.ReadAllText(f)));
    }

    private static void Render()
    {
        var script = Path.Combine(RepositoryRoot.Path, ".ci", "render-manifests.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) { process.Kill(true); throw new InvalidOperationException("render-manifests.sh took over 5 minutes"); }
        if (process.ExitCode != 0) throw new InvalidOperationException($"render-manifests.sh failed ({process.ExitCode}): {stderr.Result}");
    }

    public static IReadOnlyList<ManifestDocument> Split(string file, string text)
    {
        var docs = new List<ManifestDocument>();
        foreach (var part in DocumentSeparator().Split(text))
        {
            if (part.Split('\n').All(l => l.Trim().Length == 0 || l.TrimStart().StartsWith('#'))) continue;
            var stream = new YamlStream();
            stream.Load(new StringReader(part));
            if (ToJson(stream.Documents[0].RootNode) is JsonObject json) docs.Add(new ManifestDocument(file, part, json));
        }
        return docs;
    }

    /// <summary>YAML to JSON the way the API server reads it: plain scalars become numbers, booleans or null.</summary>
    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain } s => Plain(s.Value ?? ""),
        YamlScalarNode s => JsonValue.Create(s.Value ?? ""),
        _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
    };

    private static JsonNode? Plain(string v)
    {
        if (v is "" or "~" or "null") return null;
        if (v is "true" or "false") return JsonValue.Create(v == "true");
        // Numbers go through their JSON text so that they read back as any numeric type.
        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonNode.Parse(l.ToString(CultureInfo.InvariantCulture));
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return JsonNode.Parse(d.ToString("R", CultureInfo.InvariantCulture));
        return JsonValue.Create(v);
    }

    [GeneratedRegex(@"^---[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex DocumentSeparator();
}

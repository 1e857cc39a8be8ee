using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>The label selector syntax of list/watch: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k</c>, <c>!k</c>,
/// <c>k in (a,b)</c>, <c>k notin (a,b)</c>, comma-separated (AND).</summary>
public sealed partial class LabelSelector
{
    private readonly List<Func<IReadOnlyDictionary<string, string>, bool>> _requirements = [];

    public static LabelSelector Parse(string? text)
    {
        var selector = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        foreach (Match m in Requirement().Matches(text))
        {
            var key = m.Groups["key"].Value;
            if (m.Groups["set"].Success)
            {
                var values = m.Groups["values"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
                var negate = m.Groups["set"].Value == "notin";
                selector._requirements.Add(l => l.TryGetValue(key, out var v) ? values.Contains(v) != negate : negate);
            }
            else if (m.Groups["op"].Success)
            {
                var value = m.Groups["value"].Value;
                var negate = m.Groups["op"].Value == "!=";
                selector._requirements.Add(l => (l.TryGetValue(key, out var v) && v == value) != negate);
            }
            else if (m.Groups["not"].Success) selector._requirements.Add(l => !l.ContainsKey(key));
            else selector._requirements.Add(l => l.ContainsKey(key));
        }
        if (selector._requirements.Count == 0) throw ApiError.BadRequest($"unable to parse requirement: {text}");
        return selector;
    }

    public bool Matches(JsonNode obj)
    {
        var labels = (obj["metadata"]?["labels"] as JsonObject)?.ToDictionary(p => p.Key, p => (string?)p.Value ?? "")
                     ?? new Dictionary<string, string>();
        return _requirements.All(r => r(labels));
    }

    [GeneratedRegex(@"(?<not>!)?\s*(?<key>[A-Za-z0-9._/-]+)\s*(?:(?<set>notin|in)\s*\((?<values>[^)]*)\)|(?<op>==|!=|=)\s*(?<value>[A-Za-z0-9._-]*))?\s*(,|$)")]
    private static partial Regex Requirement();
}

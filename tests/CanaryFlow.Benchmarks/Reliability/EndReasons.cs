using System.Text.RegularExpressions;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// Why rollouts ended (the Canary's status message at its end), grouped: "healthy, Failed: canary not ready: … × 6,499",
/// so that a run explains its own outcomes (issue 15: thousands of healthy canaries rolled back for reasons never read,
/// because the Canaries vanish with the harness). Unfinished ones are grouped by the phase and message they were left in.
/// </summary>
public static partial class EndReasons
{
    /// <param name="outcomes">Per service: whether it is faulty, its final phase (or null when unfinished), its phase and message.</param>
    public static IReadOnlyList<string> Describe(IEnumerable<(BenchService Service, string? Final, string? Phase, string? Message)> outcomes, int top = 6)
    {
        var groups = outcomes
            .GroupBy(o => (Kind: o.Service.Faulty ? "faulty" : "healthy",
                Outcome: o.Final ?? $"unfinished ({o.Phase ?? "no phase"})",
                Right: o.Final == o.Service.ExpectedPhase))
            .OrderBy(g => g.Key.Right).ThenByDescending(g => g.Count());
        var lines = new List<string>();
        foreach (var g in groups)
        {
            lines.Add($"{g.Key.Kind} {g.Key.Outcome} ({(g.Key.Right ? "right" : "wrong")}) × {g.Count()}:");
            var reasons = g.GroupBy(o => Shape(o.Message ?? "(no message)", o.Service.Name)).OrderByDescending(r => r.Count()).ToList();
            lines.AddRange(reasons.Take(top).Select(r => $"    {r.Count(),6} × {r.Key}"));
            if (reasons.Count > top) lines.Add($"    {reasons.Skip(top).Sum(r => r.Count()),6} × ({reasons.Count - top} other reasons)");
        }
        return lines;
    }

    /// <summary>A message with what differs between rollouts of the same cause (the service's name, revisions, times,
    /// measured values) replaced, so that equal causes group together.</summary>
    public static string Shape(string message, string service)
    {
        var s = message.Replace(service, "<svc>", StringComparison.Ordinal);
        s = Timestamp().Replace(s, "<time>");
        s = Revision().Replace(s, "<rev>");
        s = Measured().Replace(s, "#");
        return s.Length > 240 ? s[..240] + "…" : s;
    }

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z?")]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b")]
    private static partial Regex Revision();

    [GeneratedRegex(@"\d+\.\d+")]
    private static partial Regex Measured();
}

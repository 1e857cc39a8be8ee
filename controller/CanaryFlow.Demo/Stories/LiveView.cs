using System.Globalization;
using System.Text;
using CanaryFlow.Contracts;

namespace CanaryFlow.Demo.Stories;

/// <summary>The terminal view: one line per rollout, printed when something changes — weight as a bar,
/// the latest error rate and P99 of canary and stable, and the verdict with its reason.</summary>
public sealed class LiveView
{
    private readonly Dictionary<string, string> _last = [];

    public void Show(RolloutStatusView v, string mesh)
    {
        var line = Line(v, mesh);
        if (_last.TryGetValue(v.Target.Name, out var previous) && previous == line) return;
        _last[v.Target.Name] = line;
        Console.WriteLine($"{DateTime.Now:HH:mm:ss} {line}");
    }

    public static string Bar(int weight)
    {
        var filled = Math.Clamp(weight, 0, 100) / 5;
        return "[" + new string('#', filled) + new string('.', 20 - filled) + $"] {weight,3}%";
    }

    /// <summary>Per version, from Prometheus: "stable err 0% p99 1ms · canary err 25% p99 1ms".</summary>
    public static string Mesh(IReadOnlyDictionary<string, (double? ErrorPercent, double? P99Ms)> figures, string service)
    {
        string One(string label, string workload) => figures.TryGetValue(workload, out var f)
            ? $"{label} err {Fmt(f.ErrorPercent)}% p99 {Fmt(f.P99Ms)}ms" : $"{label} idle";
        return $"{One("stable", service + "-primary")} · {One("canary", service)}";
    }

    private static string Line(RolloutStatusView v, string mesh)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{v.Target.Name,-9} {v.Phase,-15} {Bar(v.CanaryWeight)} step {v.StepIndex + 1}/{v.Steps.Count} | {mesh}");
        if (v.LastAnalysis is { Metrics.Count: > 0 } a)
            sb.Append(" | verdict: ").AppendJoin(", ", a.Metrics.Select(m => $"{m.Name} {m.Outcome}"));
        sb.Append(" — ").Append(v.LastReason);
        return sb.ToString();
    }

    private static string Fmt(double? x) => x is null || double.IsNaN(x.Value) ? "n/a" : x.Value.ToString("0.#", CultureInfo.InvariantCulture);
}

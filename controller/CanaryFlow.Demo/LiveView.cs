using System.Globalization;
using System.Text;
using CanaryFlow.Contracts;

namespace CanaryFlow.Demo;

/// <summary>The terminal view: one line per rollout, printed when something changes — weight as a bar,
/// the latest error rate and P99 of canary and stable, and the verdict with its reason.</summary>
public sealed class LiveView
{
    private readonly Dictionary<string, string> _last = [];

    public void Show(RolloutStatusView v)
    {
        var line = Line(v);
        if (_last.TryGetValue(v.Target.Name, out var previous) && previous == line) return;
        _last[v.Target.Name] = line;
        Console.WriteLine($"{DateTime.Now:HH:mm:ss} {line}");
    }

    public static string Bar(int weight)
    {
        var filled = Math.Clamp(weight, 0, 100) / 5;
        return "[" + new string('#', filled) + new string('.', 20 - filled) + $"] {weight,3}%";
    }

    private static string Line(RolloutStatusView v)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{v.Target.Name,-9} {v.Phase,-15} {Bar(v.CanaryWeight)} step {v.StepIndex + 1}/{v.Steps.Count}");
        if (v.LastAnalysis is { } a)
        {
            foreach (var m in a.Metrics)
            {
                var unit = m.Name == "request-duration" ? "ms" : "%";
                var label = m.Name == "request-duration" ? "P99" : "success";
                sb.Append(CultureInfo.InvariantCulture, $" | {label} canary {Fmt(m.Value)}{unit}");
                if (m.Baseline is not null) sb.Append(CultureInfo.InvariantCulture, $" stable {Fmt(m.Baseline)}{unit}");
                sb.Append(CultureInfo.InvariantCulture, $" [{m.Outcome}]");
            }
        }
        sb.Append(" — ").Append(v.LastReason);
        return sb.ToString();
    }

    private static string Fmt(double? x) => x is null || double.IsNaN(x.Value) ? "n/a" : x.Value.ToString("0.#", CultureInfo.InvariantCulture);
}

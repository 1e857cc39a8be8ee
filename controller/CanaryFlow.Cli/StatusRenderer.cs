using System.Globalization;
using CanaryFlow.Contracts;

namespace CanaryFlow.Cli;

/// <summary>Plain-text views of rollouts: a table for <c>list</c>, a panel for <c>status</c>.</summary>
public static class StatusRenderer
{
    private const int BarWidth = 30;

    public static void WriteList(TextWriter output, IReadOnlyList<RolloutStatusView> rollouts)
    {
        if (rollouts.Count == 0) { output.WriteLine("No rollouts."); return; }
        var rows = rollouts.OrderBy(r => r.Target.ToString(), StringComparer.Ordinal)
            .Select(r => new[] { r.Target.ToString(), Phase(r), $"{r.CanaryWeight}%", Step(r), Short(r.Revision), r.LastTransitionAt.ToString("u", CultureInfo.InvariantCulture) })
            .Prepend(["TARGET", "PHASE", "WEIGHT", "STEP", "REVISION", "LAST TRANSITION"]).ToList();
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows) output.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
    }

    public static void WriteStatus(TextWriter output, RolloutStatusView r)
    {
        output.WriteLine($"{r.Target}  {Phase(r)}");
        if (r.HoldingSince is { } since)
            output.WriteLine($"  holding   since {since.ToString("u", CultureInfo.InvariantCulture)}: the metrics source does not answer; weights frozen until it does");
        if (r.Strategy is { Length: > 0 } strategy) output.WriteLine($"  strategy  {strategy}");
        output.WriteLine($"  revision  {r.Revision}" + (r.StableRevision is null ? "" : $"  (stable {r.StableRevision})"));
        output.WriteLine($"  weight    {Bar(r.CanaryWeight)} {r.CanaryWeight,3}%" + (r.DesiredWeight != r.CanaryWeight ? $" → {r.DesiredWeight}%" : ""));
        output.WriteLine($"  steps     {string.Join(' ', r.Steps.Select((w, i) => i == r.StepIndex ? $"[{w}]" : w.ToString(CultureInfo.InvariantCulture)))}  (step {Step(r)})");
        output.WriteLine($"  checks    {r.FailedChecks} failed of {r.FailureLimit} allowed");
        if (r.LastReason.Length > 0) output.WriteLine($"  reason    {r.LastReason}");
        output.WriteLine("  analysis  " + (r.LastAnalysis?.Summary ?? "none yet"));
        foreach (var m in r.LastAnalysis?.Metrics ?? [])
            output.WriteLine($"    {m.Name,-28} {Num(m.Value),10}  {Bounds(m),-24} {m.Outcome}");
        output.WriteLine("  history");
        foreach (var t in r.History.TakeLast(15))
            output.WriteLine($"    {t.At.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}  {t.FromPhase} → {t.Phase}  {t.CanaryWeight}%  {t.Reason}".TrimEnd());
    }

    /// <summary>The phase as people should read it: Holding while the metrics source does not answer (sequential mode).</summary>
    public static string Phase(RolloutStatusView r) => r.HoldingSince is null ? r.Phase
        : r.Phase == RolloutPhases.Progressing ? RolloutPhases.Holding : $"{r.Phase}, holding";

    public static bool IsFinished(RolloutStatusView r) => r.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed;

    public static string Bar(int weight)
    {
        var filled = (int)Math.Round(Math.Clamp(weight, 0, 100) / 100.0 * BarWidth);
        return "[" + new string('#', filled) + new string('.', BarWidth - filled) + "]";
    }

    private static string Step(RolloutStatusView r) => r.Steps.Count == 0 ? "-" : $"{Math.Min(r.StepIndex + 1, r.Steps.Count)}/{r.Steps.Count}";

    private static string Short(string revision) => revision.Length > 19 ? revision[..19] : revision;

    private static string Num(double? value) => value?.ToString("0.####", CultureInfo.InvariantCulture) ?? "no data";

    private static string Bounds(MetricResult m) => string.Join(" ", new[]
    {
        m.Min is { } min ? $"min {Num(min)}" : null,
        m.Max is { } max ? $"max {Num(max)}" : null,
        m.Baseline is { } b ? $"stable {Num(b)}" : null,
    }.OfType<string>());
}

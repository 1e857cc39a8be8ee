namespace CanaryFlow.Analysis.Verdicts;

/// <summary>
/// Renders a custom metric's PromQL template. Variables: {{namespace}}, {{target}} (the workload
/// being measured: the canary, or the stable/baseline side of a comparison), {{canary}},
/// {{stable}} and {{interval}} (a PromQL duration such as "1m").
/// </summary>
public static class MetricTemplate
{
    public static string Render(string template, string ns, string target, string canary, string stable, TimeSpan interval) =>
        template
            .Replace("{{namespace}}", ns, StringComparison.Ordinal)
            .Replace("{{target}}", target, StringComparison.Ordinal)
            .Replace("{{canary}}", canary, StringComparison.Ordinal)
            .Replace("{{stable}}", stable, StringComparison.Ordinal)
            .Replace("{{interval}}", PromQl.Duration(interval), StringComparison.Ordinal);
}

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

    private static readonly string[] Variables = ["namespace", "target", "canary", "stable", "interval"];

    /// <summary>
    /// A cheap check at spec time, so that a broken query becomes a clear status condition instead of a
    /// query error at every check: unknown template variables, unbalanced brackets or quotes.
    /// It is no PromQL parser; Prometheus still has the last word (bad_data = a query error).
    /// </summary>
    /// <returns>null when the template looks sound, else what is wrong with it.</returns>
    public static string? Problem(string template)
    {
        if (string.IsNullOrWhiteSpace(template)) return "the query is empty";
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(template, @"\{\{\s*([^}]*?)\s*\}\}"))
            if (!Variables.Contains(m.Groups[1].Value))
                return $"unknown variable {{{{{m.Groups[1].Value}}}}} (known: {string.Join(", ", Variables.Select(v => "{{" + v + "}}"))})";
        var withoutVariables = System.Text.RegularExpressions.Regex.Replace(template, @"\{\{[^}]*\}\}", "x");
        var open = new Stack<char>();
        char? quote = null;
        for (var i = 0; i < withoutVariables.Length; i++)
        {
            var c = withoutVariables[i];
            if (quote is { } q)
            {
                if (c == '\\') i++;
                else if (c == q) quote = null;
                continue;
            }
            switch (c)
            {
                case '"' or '\'' or '`': quote = c; break;
                case '(' or '[' or '{': open.Push(c); break;
                case ')' or ']' or '}':
                    var expected = c switch { ')' => '(', ']' => '[', _ => '{' };
                    if (open.Count == 0 || open.Pop() != expected) return $"unbalanced '{c}' at position {i + 1}";
                    break;
            }
        }
        if (quote is not null) return "a quoted string is not closed";
        return open.Count > 0 ? $"'{open.Peek()}' is not closed" : null;
    }
}

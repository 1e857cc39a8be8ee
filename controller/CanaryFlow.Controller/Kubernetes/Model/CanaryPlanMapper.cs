using System.Globalization;
using System.Text.RegularExpressions;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Kubernetes.Model;

/// <summary>The outcome of reading a Canary spec: a plan, or every reason it cannot be one.</summary>
public sealed record PlanResult(RolloutPlan? Plan, IReadOnlyList<string> Errors)
{
    public bool IsValid => Plan is not null;
}

/// <summary>
/// Canary spec to <see cref="RolloutPlan"/>. Pure, and never throws on bad input: a spec that slipped
/// past admission (or a cluster without the schema) becomes a list of errors that the controller
/// reports as a status condition and an Event.
/// </summary>
public static partial class CanaryPlanMapper
{
    public const int DefaultStepWeight = 10;
    public const int DefaultMaxWeight = 100;
    public const int DefaultFailureLimit = 5;
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan DefaultProgressDeadline = TimeSpan.FromMinutes(10);

    public static PlanResult Map(CanaryResource canary) =>
        canary.SpecError is { } error ? new PlanResult(null, [error]) : Map(canary.Spec);

    public static PlanResult Map(CanarySpec? spec)
    {
        var errors = new List<string>();
        if (spec is null) return new PlanResult(null, ["spec is required"]);
        if (string.IsNullOrWhiteSpace(spec.TargetRef?.Name)) errors.Add("spec.targetRef.name is required");
        if (spec.Service is null) errors.Add("spec.service is required");
        else if (spec.Service.Port is < 1 or > 65535) errors.Add($"spec.service.port must be 1..65535, got {spec.Service.Port}");

        if (spec.VirtualService is { } vs && (vs.StableSubset ?? "stable") == (vs.CanarySubset ?? "canary"))
            errors.Add($"spec.virtualService: stableSubset and canarySubset must differ, both are \"{vs.StableSubset ?? vs.CanarySubset}\"");

        Strategies.StrategyRules.Check(spec, errors);
        var a = spec.Analysis;
        var steps = Strategies.StrategyRules.Steps(spec, spec.Analysis is { Match.Count: > 0 } or { BlueGreen: true } ? [] : Steps(a, errors));
        var interval = DefaultInterval;
        if (a?.Interval is { } text && !TryParseDuration(text, out interval))
            errors.Add($"spec.analysis.interval \"{text}\" is not a duration such as 30s, 1m or 1h30m");
        var failureLimit = Limit(a?.FailureLimit, DefaultFailureLimit, 1, "failureLimit", errors);
        var inconclusiveLimit = Limit(a?.InconclusiveLimit, 0, 0, "inconclusiveLimit", errors);
        var errorLimit = Limit(a?.ErrorLimit, 0, 0, "errorLimit", errors);
        var minRequests = Limit(a?.MinRequests, 0, 0, "minRequests", errors);
        var deadline = a?.ProgressDeadlineSeconds is { } seconds
            ? seconds > 0 ? TimeSpan.FromSeconds(seconds) : Invalid(errors, "spec.analysis.progressDeadlineSeconds must be positive", DefaultProgressDeadline)
            : DefaultProgressDeadline;

        var approvalAt = a?.Approval?.AtWeights ?? [];
        foreach (var w in approvalAt.Where(w => !steps.Contains(w)))
            errors.Add($"spec.analysis.approval.atWeights: {w} is not one of the steps ({string.Join(", ", steps)})");

        var metrics = new List<MetricSpec>();
        foreach (var (m, i) in (a?.Metrics ?? []).Select((m, i) => (m, i)))
        {
            if (string.IsNullOrWhiteSpace(m.Name)) { errors.Add($"spec.analysis.metrics[{i}].name is required"); continue; }
            if (m.ThresholdRange is { Min: { } min, Max: { } max } && min > max)
                errors.Add($"spec.analysis.metrics[{i}].thresholdRange: min {min} is above max {max}");
            // A templateRef is resolved (Kubernetes/Templates/CanaryPlanResolver) into Query and Source before mapping.
            var field = m.TemplateRef is { } tr ? $"spec.analysis.metrics[{i}].templateRef ({tr.Kind ?? "MetricTemplate"} {tr.Name})" : $"spec.analysis.metrics[{i}].query";
            if (m.TemplateRef is not null && string.IsNullOrWhiteSpace(m.Query))
                errors.Add($"{field}: the template was not read");
            else if (!string.IsNullOrWhiteSpace(m.Query) && CanaryFlow.Analysis.Verdicts.MetricTemplate.Problem(m.Query) is { } problem)
                errors.Add($"{field}: {problem}");
            else if (string.IsNullOrWhiteSpace(m.Query) && !CanaryFlow.Analysis.Verdicts.IstioQueries.IsBuiltIn(m.Name))
                errors.Add($"spec.analysis.metrics[{i}]: \"{m.Name}\" is not a built-in metric (request-success-rate, request-duration), so it needs a query or a templateRef");
            metrics.Add(new MetricSpec(m.Name, string.IsNullOrWhiteSpace(m.Query) ? null : m.Query, m.ThresholdRange?.Min, m.ThresholdRange?.Max, m.Source));
        }

        ComparisonSpec? comparison = null;
        if (a?.Comparison is { } c)
        {
            comparison = new ComparisonSpec(c.Confidence ?? 0.95, c.AllowedRelativeChange ?? 0.1, c.PassScore ?? 0.95, c.MarginalScore ?? 0.75, c.UseBaseline ?? false);
            if (comparison.Confidence is <= 0 or >= 1) errors.Add("spec.analysis.comparison.confidence must be between 0 and 1");
            if (comparison.MarginalScore > comparison.PassScore) errors.Add("spec.analysis.comparison.marginalScore must not exceed passScore");
        }

        var sequential = Sequential(spec, errors);

        if (spec.ImagePolicy?.TagPolicy is { } tp)
        {
            if (tp.Kind is not ("exact" or "semver" or "regex")) errors.Add($"spec.imagePolicy.tagPolicy.kind must be exact, semver or regex, got \"{tp.Kind}\"");
            else if (tp.Kind == "regex" && !IsRegex(tp.Value)) errors.Add($"spec.imagePolicy.tagPolicy.value \"{tp.Value}\" is not a valid regular expression");
        }

        var hooks = CanaryHookMapper.Map(spec.Hooks, errors);

        if (errors.Count > 0) return new PlanResult(null, errors);
        return new PlanResult(new RolloutPlan(steps, interval, failureLimit, inconclusiveLimit, errorLimit, deadline,
            approvalAt.Distinct().Order().ToList(), a?.Approval?.BeforePromotion ?? false,
            new AnalysisSpec(minRequests, metrics, comparison, sequential), Strategies.StrategyRules.Describe(spec), Strategies.StrategyRules.MirrorSteps(spec), hooks.Count > 0 ? hooks : null), errors);
    }

    /// <summary>Analysis modes: "sequential" (the default for weighted canaries: anytime-valid tests at every tick, see
    /// docs/sequential-analysis.md) or "fixed-window" (one check per interval, limits count failed checks; Flagger's way).</summary>
    public const string FixedWindowMode = "fixed-window", SequentialMode = "sequential";

    /// <summary>Sequential for a weighted canary, where its figures beat fixed windows on every aim of issue 12 but one.
    /// A/B testing, mirroring and blue/green judge fixed iterations (no traffic split by weight to compare at each
    /// tick): they stay on fixed windows unless a spec asks for sequential.</summary>
    public static string DefaultMode(CanarySpec spec) =>
        spec.Analysis is { Match.Count: > 0 } or { Mirror: not null } or { BlueGreen: true } ? FixedWindowMode : SequentialMode;

    private static SequentialSpec? Sequential(CanarySpec spec, List<string> errors)
    {
        var a = spec.Analysis;
        var mode = a?.Mode ?? DefaultMode(spec);
        if (mode is not (FixedWindowMode or SequentialMode))
        {
            errors.Add($"spec.analysis.mode must be {FixedWindowMode} or {SequentialMode}, got \"{mode}\"");
            return null;
        }
        if (mode == FixedWindowMode)
        {
            if (a?.Sequential is not null || a?.MetricsOutageDeadline is not null)
                errors.Add($"spec.analysis: sequential and metricsOutageDeadline apply to mode: {SequentialMode} only");
            return null;
        }
        var s = a?.Sequential;
        var alpha = s?.Alpha ?? SequentialSpec.DefaultAlpha;
        var tolerance = s?.Tolerance ?? SequentialSpec.DefaultTolerance;
        if (alpha is <= 0 or >= 1) errors.Add($"spec.analysis.sequential.alpha must be between 0 and 1, got {alpha}");
        if (tolerance < 0) errors.Add($"spec.analysis.sequential.tolerance must not be negative, got {tolerance}");
        var tick = Duration(s?.Tick, SequentialSpec.DefaultTick, "sequential.tick", errors);
        if (tick < TimeSpan.FromSeconds(1)) errors.Add("spec.analysis.sequential.tick must be at least 1s (and is best at least the scrape interval)");
        var firstLook = Duration(s?.FirstLook, SequentialSpec.DefaultFirstLook, "sequential.firstLook", errors);
        if (firstLook < TimeSpan.FromSeconds(1)) errors.Add("spec.analysis.sequential.firstLook must be at least 1s (and is best at least the scrape interval)");
        var deadline = Duration(a?.MetricsOutageDeadline, SequentialSpec.DefaultMetricsOutageDeadline, "metricsOutageDeadline", errors);
        var holdAt = s?.HoldAt ?? SequentialSpec.DefaultHoldAt;
        if (!(holdAt >= 0) || double.IsInfinity(holdAt)) errors.Add($"spec.analysis.sequential.holdAt must be an e-value >= 0 (0: never hold), got {holdAt}");
        // No maxHold: one interval (the saga's runner reads null as that).
        TimeSpan? maxHold = s?.MaxHold is { } hold ? Duration(hold, TimeSpan.Zero, "sequential.maxHold", errors) : null;
        return new SequentialSpec(alpha, tolerance, tick, deadline, firstLook, holdAt, maxHold, LatencyFloor(s?.LatencyFloor, errors));
    }

    // A duration, or zero ("0ms") for no floor at all.
    private static TimeSpan LatencyFloor(string? text, List<string> errors) =>
        text is not null && ZeroDuration().IsMatch(text.Trim()) ? TimeSpan.Zero
            : Duration(text, SequentialSpec.DefaultLatencyFloor, "sequential.latencyFloor", errors);

    private static TimeSpan Duration(string? text, TimeSpan fallback, string field, List<string> errors)
    {
        if (text is null) return fallback;
        if (TryParseDuration(text, out var value) && value > TimeSpan.Zero) return value;
        errors.Add($"spec.analysis.{field} \"{text}\" is not a positive duration such as 5s, 1m or 1h30m");
        return fallback;
    }

    private static List<int> Steps(CanaryAnalysis? a, List<string> errors)
    {
        if (a?.Steps is { Count: > 0 } explicitSteps)
        {
            if (a.StepWeight is not null) errors.Add("spec.analysis: give either steps or stepWeight/maxWeight, not both");
            for (var i = 0; i < explicitSteps.Count; i++)
            {
                if (explicitSteps[i] is < 1 or > 100) errors.Add($"spec.analysis.steps[{i}] must be 1..100, got {explicitSteps[i]}");
                else if (i > 0 && explicitSteps[i] <= explicitSteps[i - 1]) errors.Add("spec.analysis.steps must be strictly increasing");
            }
            return [.. explicitSteps];
        }
        var step = a?.StepWeight ?? DefaultStepWeight;
        var max = a?.MaxWeight ?? DefaultMaxWeight;
        if (step is < 1 or > 100) { errors.Add($"spec.analysis.stepWeight must be 1..100, got {step}"); return []; }
        if (max is < 1 or > 100) { errors.Add($"spec.analysis.maxWeight must be 1..100, got {max}"); return []; }
        if (step > max) { errors.Add($"spec.analysis.stepWeight {step} is above maxWeight {max}"); return []; }
        var steps = new List<int>();
        for (var w = step; w <= max; w += step) steps.Add(w);
        return steps;
    }

    private static int Limit(int? value, int fallback, int min, string field, List<string> errors)
    {
        if (value is null) return fallback;
        if (value < min) errors.Add($"spec.analysis.{field} must be at least {min}, got {value}");
        return value.Value;
    }

    private static T Invalid<T>(List<string> errors, string message, T fallback) { errors.Add(message); return fallback; }

    private static bool IsRegex(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern)) return false;
        try { _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1)); return true; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>Go-style durations as Kubernetes users write them: "500ms", "30s", "1m", "1h30m".</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var matches = DurationPart().Matches(text.Trim());
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != text.Trim()) return false;
        foreach (Match m in matches)
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            duration += m.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                _ => TimeSpan.FromHours(n),
            };
        }
        return duration > TimeSpan.Zero;
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h)")]
    private static partial Regex DurationPart();

    [GeneratedRegex(@"^(0+(\.0+)?(ms|s|m|h))+$")]
    private static partial Regex ZeroDuration();
}

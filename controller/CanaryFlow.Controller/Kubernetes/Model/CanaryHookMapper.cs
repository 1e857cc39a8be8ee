using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Kubernetes.Model;

/// <summary><c>spec.hooks</c> to <see cref="HookSpec"/>s, with every reason one cannot be (the CRD refuses most of them at
/// admission; this is for specs that got past it). Pure.</summary>
public static class CanaryHookMapper
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultLoadDuration = TimeSpan.FromMinutes(1);
    public const int DefaultLoadRate = 10;
    public const int MaxLoadRate = 100;

    public static IReadOnlyList<HookSpec> Map(IReadOnlyList<CanaryHook>? hooks, List<string> errors)
    {
        var result = new List<HookSpec>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (h, i) in (hooks ?? []).Select((h, i) => (h, i)))
        {
            var at = $"spec.hooks[{i}]";
            var before = errors.Count;
            if (string.IsNullOrWhiteSpace(h.Name)) errors.Add($"{at}.name is required");
            else if (!names.Add(h.Name)) errors.Add($"{at}.name \"{h.Name}\" is used by another hook");
            if (h.Type is null || !HookTypes.All.Contains(h.Type))
                errors.Add($"{at}.type must be one of {string.Join(", ", HookTypes.All)}, got \"{h.Type}\"");
            if ((h.Url is null) == (h.Load is null)) errors.Add($"{at}: give either url or load");
            if (h.Url is not null && !IsHttp(h.Url)) errors.Add($"{at}.url \"{h.Url}\" is not an absolute http(s) URL");
            var timeout = Duration(h.Timeout, DefaultTimeout, $"{at}.timeout", errors);
            LoadSpec? load = null;
            if (h.Load is { } l)
            {
                if (h.Type != HookTypes.Rollout) errors.Add($"{at}.load: the load generator is a rollout hook, not {h.Type}");
                if (l.Url is null || !IsHttp(l.Url)) errors.Add($"{at}.load.url \"{l.Url}\" is not an absolute http(s) URL");
                var rate = l.RequestsPerSecond ?? DefaultLoadRate;
                if (rate is < 1 or > MaxLoadRate) errors.Add($"{at}.load.requestsPerSecond must be 1..{MaxLoadRate}, got {rate}");
                load = new LoadSpec(l.Url ?? "", rate, Duration(l.Duration, DefaultLoadDuration, $"{at}.load.duration", errors));
            }
            if (errors.Count == before) result.Add(new HookSpec(h.Name!, h.Type!, h.Url, timeout, h.Metadata, load));
        }
        return result;
    }

    private static bool IsHttp(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https";

    private static TimeSpan Duration(string? text, TimeSpan fallback, string field, List<string> errors)
    {
        if (text is null) return fallback;
        if (CanaryPlanMapper.TryParseDuration(text, out var d)) return d;
        errors.Add($"{field} \"{text}\" is not a duration such as 500ms, 10s or 1m");
        return fallback;
    }
}

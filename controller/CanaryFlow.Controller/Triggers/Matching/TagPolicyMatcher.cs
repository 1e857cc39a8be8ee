using System.Text.RegularExpressions;

namespace CanaryFlow.Controller.Triggers.Matching;

/// <summary>Decides whether a pushed tag may start a rollout under a Canary's <see cref="TagPolicy"/>.</summary>
public static class TagPolicyMatcher
{
    // Regexes come from Canary specs: bound their cost so that one bad pattern cannot stall the receiver.
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    public static bool Matches(TagPolicy policy, string? tag)
    {
        if (string.IsNullOrEmpty(tag)) return false;
        try
        {
            return policy.Kind.ToLowerInvariant() switch
            {
                "exact" => string.Equals(policy.Value, tag, StringComparison.Ordinal),
                "semver" => SemVersion.TryParse(tag) is { } v && SemverRange.Parse(policy.Value).IsSatisfiedBy(v),
                "regex" => Regex.IsMatch(tag, $"^(?:{policy.Value})$", RegexOptions.CultureInvariant, RegexTimeout),
                _ => false,
            };
        }
        catch (Exception e) when (e is FormatException or ArgumentException or RegexMatchTimeoutException)
        {
            // An invalid policy matches nothing; the Kubernetes side reports it on the Canary.
            return false;
        }
    }
}

using System.Text.RegularExpressions;
using Semver;

namespace CanaryFlow.Controller.Triggers.Matching;

/// <summary>Decides whether a pushed tag may start a rollout under a Canary's <see cref="TagPolicy"/>.</summary>
public static class TagPolicyMatcher
{
    // Regexes come from Canary specs: bound their cost so that one bad pattern cannot stall the receiver.
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    // Image tags are often written "v1.2.3"; anything else is SemVer 2.0 as written (no leading zeros,
    // all three numbers), so "latest" or "01.2.3" never match a semver policy.
    private const SemVersionStyles TagStyle = SemVersionStyles.AllowV | SemVersionStyles.AllowWhitespace;

    public static bool Matches(TagPolicy policy, string? tag)
    {
        if (string.IsNullOrEmpty(tag)) return false;
        try
        {
            return policy.Kind.ToLowerInvariant() switch
            {
                "exact" => string.Equals(policy.Value, tag, StringComparison.Ordinal),
                "semver" => MatchesSemverRange(policy.Value, tag),
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

    // npm range semantics (the Semver package's ParseNpm): a prerelease tag matches only a range that
    // names a prerelease of the same major.minor.patch, so "^1.2.0" never picks "1.3.0-rc.1" by surprise.
    private static bool MatchesSemverRange(string range, string tag) =>
        SemVersion.TryParse(tag, TagStyle, out var version)
        && SemVersionRange.TryParseNpm(range, out var parsed)
        && parsed.Contains(version);
}

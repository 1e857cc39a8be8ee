namespace CanaryFlow.Contracts;

/// <summary>The Deployment a Canary governs, by namespace and name.</summary>
public sealed record RolloutTarget(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}/{Name}";

    /// <summary>Parses "namespace/name"; returns null unless both are names Kubernetes allows
    /// (a namespace is a DNS label of at most 63 characters, a Deployment a DNS subdomain of at most 253).</summary>
    public static RolloutTarget? TryParse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Trim().Split('/');
        return parts.Length == 2 && IsName(parts[0], 63, allowDots: false) && IsName(parts[1], 253, allowDots: true)
            ? new RolloutTarget(parts[0], parts[1]) : null;
    }

    private static bool IsName(string s, int max, bool allowDots) =>
        s.Length is > 0 && s.Length <= max && char.IsAsciiLetterLower(s[0]) | char.IsAsciiDigit(s[0]) &&
        char.IsAsciiLetterLower(s[^1]) | char.IsAsciiDigit(s[^1]) &&
        s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-' || (allowDots && c == '.'));
}

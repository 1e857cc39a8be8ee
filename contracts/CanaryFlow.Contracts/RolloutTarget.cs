namespace CanaryFlow.Contracts;

/// <summary>The Deployment a Canary governs, by namespace and name.</summary>
public sealed record RolloutTarget(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}/{Name}";

    /// <summary>Parses "namespace/name"; returns null when the text is not of that form.</summary>
    public static RolloutTarget? TryParse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Trim().Split('/');
        return parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0 ? new RolloutTarget(parts[0], parts[1]) : null;
    }
}

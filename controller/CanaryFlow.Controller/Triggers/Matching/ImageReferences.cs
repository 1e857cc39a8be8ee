namespace CanaryFlow.Controller.Triggers.Matching;

/// <summary>
/// Canonical repository names, so that "nginx", "docker.io/library/nginx" and
/// "index.docker.io/library/nginx" are recognised as one repository (Docker's own rules).
/// </summary>
public static class ImageReferences
{
    public static string NormalizeRepository(string repository)
    {
        var repo = repository.Trim().ToLowerInvariant();
        var slash = repo.IndexOf('/');
        var first = slash < 0 ? null : repo[..slash];
        // A first component is a registry host only if it looks like one (Docker's rule).
        var hasHost = first is not null && (first.Contains('.') || first.Contains(':') || first == "localhost");
        if (!hasHost) repo = "docker.io/" + repo;
        if (repo.StartsWith("index.docker.io/", StringComparison.Ordinal) || repo.StartsWith("registry-1.docker.io/", StringComparison.Ordinal))
            repo = "docker.io/" + repo[(repo.IndexOf('/') + 1)..];
        if (repo.StartsWith("docker.io/", StringComparison.Ordinal) && repo.IndexOf('/', "docker.io/".Length) < 0)
            repo = "docker.io/library/" + repo["docker.io/".Length..];
        return repo;
    }

    /// <summary>Splits "host/repo:tag" or "host/repo@sha256:..." into repository, tag and digest.</summary>
    public static (string Repository, string? Tag, string? Digest) Split(string reference)
    {
        string? digest = null, tag = null;
        var at = reference.IndexOf('@');
        if (at >= 0) { digest = reference[(at + 1)..]; reference = reference[..at]; }
        var colon = reference.LastIndexOf(':');
        if (colon > reference.LastIndexOf('/')) { tag = reference[(colon + 1)..]; reference = reference[..colon]; }
        return (reference, tag, digest);
    }

    /// <summary>A digest as registries write it: "sha256:" and 64 hex digits (other algorithms accepted by shape).</summary>
    public static bool IsDigest(string? value) =>
        value is not null && value.Length > 8 && value.IndexOf(':') is > 0 and var i && i < value.Length - 1
        && value[(i + 1)..].All(Uri.IsHexDigit);
}

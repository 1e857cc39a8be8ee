namespace CanaryFlow.Sandbox.Mesh;

/// <summary>Which version of a service answers (or receives a mirrored copy of) a request.</summary>
public enum Track { Stable, Canary }

/// <summary>One request as the mesh sees it: its headers (lower-case names; cookies in "cookie") and query parameters.</summary>
public sealed record MeshRequest(IReadOnlyDictionary<string, string> Headers, IReadOnlyDictionary<string, string>? Query = null)
{
    public static readonly MeshRequest Plain = new(new Dictionary<string, string>());

    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
}

/// <summary>The mesh's decision for one request.</summary>
/// <param name="Answered">The version whose response goes back to the client.</param>
/// <param name="Mirrored">The version that also got a copy (its response is dropped, as Istio drops a mirror's), or null.</param>
/// <param name="SetCookies">Set-Cookie values the route adds to the response (session affinity).</param>
public sealed record MeshDecision(Track Answered, Track? Mirrored, IReadOnlyList<string> SetCookies);

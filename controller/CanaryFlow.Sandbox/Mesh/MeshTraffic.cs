using System.Collections.Concurrent;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Sandbox.Mesh;

/// <summary>One simulated user's request and what came back.</summary>
/// <param name="User">Who sent it (a test's user id).</param>
/// <param name="AnsweredBy">The workload name in the body that came back (the Deployment that served it).</param>
public sealed record MeshExchange(string User, Track Answered, Track? Mirrored, string AnsweredBy, int Status);

/// <summary>
/// Sends real HTTP requests through <see cref="MeshRouter"/> to the stable and canary demo workloads of a service,
/// as users would: each user keeps the cookies the mesh sets (session affinity), a mirrored copy is sent and its
/// response dropped, and every exchange is recorded with the version that answered. Bounded by the caller's counts.
/// </summary>
public sealed class MeshTraffic(MeshRouter router, string service, DemoWorkload stable, DemoWorkload canary) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ConcurrentDictionary<string, Dictionary<string, string>> _jars = new();

    public ConcurrentQueue<MeshExchange> Exchanges { get; } = new();

    /// <summary>One request from <paramref name="user"/>, with its cookies and any extra headers.</summary>
    public async Task<MeshExchange> SendAsync(string user, IReadOnlyDictionary<string, string>? headers = null, IReadOnlyDictionary<string, string>? query = null,
        CancellationToken ct = default)
    {
        var jar = _jars.GetOrAdd(user, _ => []);
        var all = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in headers ?? new Dictionary<string, string>()) all[k.ToLowerInvariant()] = v;
        string cookieHeader;
        lock (jar) cookieHeader = string.Join("; ", jar.Select(c => $"{c.Key}={c.Value}"));
        if (cookieHeader.Length > 0) all["cookie"] = all.TryGetValue("cookie", out var given) ? $"{given}; {cookieHeader}" : cookieHeader;

        var decision = router.Route(service, new MeshRequest(all, query));
        if (decision.Mirrored is { } m)
        {
            // Istio sends the shadow copy and never waits for or returns its response.
            try { using var _ = await _http.GetAsync(Of(m).Address, ct); } catch (HttpRequestException) { }
        }
        using var response = await _http.GetAsync(Of(decision.Answered).Address, ct);
        var body = (await response.Content.ReadAsStringAsync(ct)).Trim();
        foreach (var set in decision.SetCookies)
        {
            var pair = set.Split(';')[0].Split('=', 2);
            if (pair.Length == 2) lock (jar) jar[pair[0].Trim()] = pair[1].Trim();
        }
        var exchange = new MeshExchange(user, decision.Answered, decision.Mirrored, body.Split(' ')[0], (int)response.StatusCode);
        Exchanges.Enqueue(exchange);
        return exchange;
    }

    /// <summary>Users who were answered by both versions at some point (should be none with session affinity once on the canary).</summary>
    public IReadOnlyList<string> UsersWhoFlipped() =>
        Exchanges.GroupBy(e => e.User).Where(g => g.Select(e => e.Answered).Distinct().Count() > 1).Select(g => g.Key).ToList();

    private DemoWorkload Of(Track track) => track == Track.Canary ? canary : stable;

    public void Dispose() => _http.Dispose();
}

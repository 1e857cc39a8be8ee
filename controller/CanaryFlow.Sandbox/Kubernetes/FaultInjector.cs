namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>One injected failure: the next <see cref="Remaining"/> API requests that match answer <see cref="StatusCode"/>.</summary>
/// <param name="Method">Only requests with this HTTP method (null: any).</param>
/// <param name="PathContains">Only requests whose path contains this text (null: any).</param>
/// <param name="RetryAfterSeconds">Sent as Retry-After (429 and 503 carry it on the real server).</param>
/// <param name="PathEndsWith">Only requests whose path ends so: a collection ("/deployments": its list and watch) and not
/// its objects ("/deployments/podinfo").</param>
public sealed record Fault(int StatusCode, int Remaining, string? Method = null, string? PathContains = null, int? RetryAfterSeconds = null,
    string? PathEndsWith = null);

/// <summary>Failures queued by tests; consulted before every API request.</summary>
public sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private readonly List<Fault> _faults = [];

    public int Injected { get; private set; }

    public void Add(Fault fault) { lock (_gate) _faults.Add(fault); }

    public void Clear() { lock (_gate) _faults.Clear(); }

    /// <summary>Takes one use of the first fault that matches the request, if any.</summary>
    public Fault? Next(string method, string path)
    {
        lock (_gate)
        {
            var index = _faults.FindIndex(f => (f.Method is null || string.Equals(f.Method, method, StringComparison.OrdinalIgnoreCase))
                                                && (f.PathContains is null || path.Contains(f.PathContains, StringComparison.Ordinal))
                                                && (f.PathEndsWith is null || path.EndsWith(f.PathEndsWith, StringComparison.Ordinal)));
            if (index < 0) return null;
            var fault = _faults[index];
            if (fault.Remaining <= 1) _faults.RemoveAt(index);
            else _faults[index] = fault with { Remaining = fault.Remaining - 1 };
            Injected++;
            return fault;
        }
    }
}

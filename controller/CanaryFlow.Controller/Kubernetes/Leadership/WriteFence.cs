namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// Closed while this replica does not lead: every write to the API server (except the Lease itself) is then
/// refused inside the client's HTTP stack, so that a replica that lost the lease cannot act, whatever code
/// path (saga worker, consumer, watch) tries. Open for good when leader election is off.
/// </summary>
public sealed class WriteFence(bool open)
{
    private volatile bool _open = open;

    public bool IsOpen => _open;

    internal void Set(bool open) => _open = open;
}

public sealed class NotLeaderException(string method, string? path)
    : InvalidOperationException($"This replica does not lead: {method} {path} refused (another replica may be acting).");

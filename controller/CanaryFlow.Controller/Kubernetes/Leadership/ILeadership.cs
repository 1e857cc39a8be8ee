namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// Whether this replica may act. Start the bus, the ticker and the watch only while leading; stop writing at
/// once when <see cref="LeadershipToken"/> is cancelled (another replica may already be acting).
/// </summary>
public interface ILeadership
{
    bool IsLeader { get; }

    /// <summary>Completes when this replica holds the lease (at once when it already does).</summary>
    Task WaitForLeadershipAsync(CancellationToken cancellationToken);

    /// <summary>Cancelled when the current term of leadership ends; a fresh token per term. Cancelled while not leading.</summary>
    CancellationToken LeadershipToken { get; }
}

/// <summary>A single replica that always leads (embedded mode, tests of other parts).</summary>
public sealed class AlwaysLeader : ILeadership
{
    public bool IsLeader => true;
    public Task WaitForLeadershipAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public CancellationToken LeadershipToken => CancellationToken.None;
}

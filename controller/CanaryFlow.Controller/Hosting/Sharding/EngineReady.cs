namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// Completes once the engine can take partitions: every partition's queue declared and the bus started. Until then no
/// partition Lease is taken, so nothing (the watch above all) publishes a rollout message that could find no queue.
/// </summary>
public sealed class EngineReady
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task WaitAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    public void Set() => _ready.TrySetResult();

    /// <summary>The engine stopped: the bus and every partition's queue are stopped, nothing is in flight any more.</summary>
    public bool Stopped { get; private set; }

    public void SetStopped() => Stopped = true;
}

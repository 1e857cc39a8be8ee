namespace CanaryFlow.Sandbox.Workloads;

/// <summary>How a demo workload answers: the share of requests that get <paramref name="ErrorStatusCode"/>, and how long each takes.</summary>
/// <param name="ErrorRate">0..1; applied deterministically (exactly that share of requests, spread evenly), so tests can rely on it.</param>
/// <param name="Latency">Time spent on each request before answering.</param>
public sealed record WorkloadBehaviour(double ErrorRate = 0, TimeSpan Latency = default, int ErrorStatusCode = 503)
{
    public static WorkloadBehaviour Healthy { get; } = new();

    public void Validate()
    {
        if (ErrorRate is < 0 or > 1 || double.IsNaN(ErrorRate)) throw new ArgumentOutOfRangeException(nameof(ErrorRate), ErrorRate, "error rate must be within 0..1");
        if (Latency < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Latency), Latency, "latency must not be negative");
        if (ErrorStatusCode is < 500 or > 599) throw new ArgumentOutOfRangeException(nameof(ErrorStatusCode), ErrorStatusCode, "errors are 5xx");
    }
}

/// <param name="Namespace">destination_workload_namespace.</param>
/// <param name="Workload">destination_workload, e.g. "podinfo" (canary) or "podinfo-primary" (stable).</param>
/// <param name="Service">The Kubernetes Service in front of it (destination_service_name); defaults to the workload name without "-primary".</param>
public sealed record DemoWorkloadOptions(string Namespace, string Workload, WorkloadBehaviour? Behaviour = null, string? Service = null);

using k8s;
using k8s.Models;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>Waits, by re-reading status (a bounded loop on the injected clock), until a Deployment has rolled
/// out its current generation and all its replicas are available, or its deadline passes. For callers outside the
/// rollout's messages (a Canary's first initialisation, its deletion): a rollout's workers never wait (Workers/WorkUnderWay).</summary>
public sealed class DeploymentWaiter(IKubernetes client, IOptions<KubernetesOptions> options, TimeProvider time)
{
    /// <returns>Null when available; otherwise why not.</returns>
    public async Task<string?> WaitAvailableAsync(string ns, string name, TimeSpan deadline, CancellationToken ct)
    {
        var until = time.GetUtcNow() + deadline;
        while (true)
        {
            var d = await client.AppsV1.ReadNamespacedDeploymentAsync(name, ns, cancellationToken: ct);
            var reason = NotAvailableReason(d);
            if (reason is null) return null;
            if (time.GetUtcNow() >= until) return $"Deployment {ns}/{name} not available within {deadline.TotalSeconds:0.#}s: {reason}";
            await Task.Delay(options.Value.PollInterval, time, ct);
        }
    }

    /// <summary>Null when the Deployment's current generation is rolled out and every replica is available.</summary>
    public static string? NotAvailableReason(V1Deployment d)
    {
        var want = d.Spec?.Replicas ?? 1;
        var s = d.Status;
        if (s is null || (s.ObservedGeneration ?? 0) < (d.Metadata.Generation ?? 0)) return "new generation not observed yet";
        if (s.Conditions?.FirstOrDefault(c => c.Type == "Progressing") is { Reason: "ProgressDeadlineExceeded" } p) return p.Message ?? "progress deadline exceeded";
        if ((s.UpdatedReplicas ?? 0) < want) return $"{s.UpdatedReplicas ?? 0} of {want} replicas updated";
        if ((s.AvailableReplicas ?? 0) < want) return $"{s.AvailableReplicas ?? 0} of {want} replicas available";
        if ((s.Replicas ?? 0) > want) return $"{s.Replicas - want} old replicas pending termination";
        return null;
    }
}

using System.ComponentModel.DataAnnotations;

namespace CanaryFlow.Controller.Kubernetes;

/// <summary>Configuration section "Kubernetes". Validated at start-up (see <see cref="KubernetesOptionsValidator"/>).</summary>
public sealed class KubernetesOptions
{
    public const string Section = "Kubernetes";

    /// <summary>Path of a kubeconfig file; null with <see cref="InCluster"/> false means the default (~/.kube/config, $KUBECONFIG).</summary>
    public string? KubeconfigPath { get; set; }
    public string? Context { get; set; }
    /// <summary>Use the pod's service account (KUBERNETES_SERVICE_HOST).</summary>
    public bool InCluster { get; set; }

    /// <summary>Namespaces whose Canaries this controller governs; none configured means "default". (Starts empty
    /// because the configuration binder appends to a list: a default item would stay beside the configured ones.)</summary>
    public List<string> Namespaces { get; set; } = [];

    /// <summary>False: this replica always acts (a single replica; no Lease is used).</summary>
    public bool LeaderElection { get; set; } = true;
    public string LeaseName { get; set; } = "canaryflow-leader";
    public string LeaseNamespace { get; set; } = "default";
    /// <summary>Unique per replica; defaults to the host name plus a random suffix.</summary>
    public string? Identity { get; set; }
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Per-attempt timeout of one API call (watches excepted).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
    [Range(0, 10)] public int MaxRetries { get; set; } = 4;
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>A Retry-After longer than this is capped, so one answer cannot stall a rollout.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);
    [Range(2, 1000)] public int BreakerMinimumThroughput { get; set; } = 20;
    /// <summary>API requests in flight at once (watches and Lease calls not counted); the rest wait their turn, outside
    /// the per-attempt timeout. Unbounded, 1,000 rollouts held up to 524 connections open to the API server at once
    /// (docs/benchmarks.md, "2026-12-04"). 0: no bound.</summary>
    [Range(0, 10000)] public int MaxConcurrentRequests { get; set; } = 32;

    /// <summary>How often a wait for a Deployment re-reads its status.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>Longest pause between watch reconnects.</summary>
    public TimeSpan MaxWatchBackoff { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>A watch is re-opened after this long even when healthy (as client-go does).</summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Sequential analysis moves its running evidence every tick; a save that changes nothing else is written
    /// with the next visible change or after this long (see Status/EvidenceWriteThrottle). Zero writes every save.</summary>
    public TimeSpan EvidenceWriteInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Pod label whose value tells stable pods ("stable") from canary pods ("canary") to the DestinationRule.</summary>
    public string TrackLabel { get; set; } = "canaryflow.dev/track";
}

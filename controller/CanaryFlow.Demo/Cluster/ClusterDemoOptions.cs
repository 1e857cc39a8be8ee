using System.Text.RegularExpressions;
using CanaryFlow.Demo.Stories;

namespace CanaryFlow.Demo.Cluster;

/// <summary>
/// Everything the cluster mode is told, with every bound explicit: the whole run (<see cref="Timeout"/>, which
/// also stops the in-cluster load generator), the analysis interval, the load per service, how long to wait for
/// Istio's telemetry before the releases, and how long cleanup may take.
/// </summary>
public sealed partial record ClusterDemoOptions(
    string KubeconfigPath,
    string? Context,
    string Namespace,
    Uri PrometheusUrl,
    bool Keep,
    TimeSpan Timeout,
    TimeSpan Interval,
    int RequestsPerSecond,
    DemoBus Bus)
{
    public const string DefaultNamespace = "canaryflow-demo";

    /// <summary>How long to wait for the first Istio requests in Prometheus before the releases (then they go ahead:
    /// the analysis will report "no data", which never passes).</summary>
    public TimeSpan TelemetryWait { get; init; } = TimeSpan.FromMinutes(3);
    public TimeSpan CleanupTimeout { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>How often the controller re-reads a Deployment it waits for, and the demo re-reads what it waits for.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The first step carries a fifth of the load for one interval; a third of that is plenty to judge.</summary>
    public CanaryTuning Tuning => new(Interval, StepWeight: 20,
        MinRequests: Math.Max(1, (int)(RequestsPerSecond * Interval.TotalSeconds * 20 / 100 / 3)), ProgressDeadlineSeconds: 600);

    public static ClusterDemoOptions FromArgs(DemoArgs args)
    {
        var kubeconfig = ExpandHome(args.Get("--kubeconfig") ?? throw new DemoUsageException("--kubeconfig is required for the cluster mode"));
        if (!File.Exists(kubeconfig)) throw new DemoUsageException($"--kubeconfig: no file at '{kubeconfig}'");
        var prometheus = args.Get("--prometheus-url") ?? throw new DemoUsageException(
            "--prometheus-url is required for the cluster mode: a Prometheus that scrapes Istio, reachable from here " +
            "(e.g. `kubectl -n istio-system port-forward svc/prometheus 9090` and --prometheus-url http://127.0.0.1:9090)");
        if (!Uri.TryCreate(prometheus, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            throw new DemoUsageException($"--prometheus-url must be an http(s) URL, got '{prometheus}'");
        var ns = args.Get("--namespace", DefaultNamespace);
        if (ns.Length > 63 || !NamespaceName().IsMatch(ns))
            throw new DemoUsageException($"--namespace must be a DNS label (lower-case letters, digits, '-', at most 63), got '{ns}'");
        return new ClusterDemoOptions(kubeconfig, args.Get("--context"), ns, url, args.Has("--keep"),
            args.Duration("--timeout", TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(2), TimeSpan.FromHours(6)),
            TimeSpan.FromSeconds(args.Int("--interval-seconds", 30, 10, 600)),
            args.Int("--requests-per-second", 10, 1, 50), args.Bus());
    }

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.TrimStart('~').TrimStart('/'))
            : path;

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex NamespaceName();
}

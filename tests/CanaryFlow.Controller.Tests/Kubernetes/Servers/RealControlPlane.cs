using System.Net;
using System.Net.Sockets;
using CanaryFlow.Controller.Tests.Infrastructure;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Servers;

/// <summary>
/// The real Kubernetes API server (kube-apiserver + etcd + kube-controller-manager v1.28.7, no kubelet) that the
/// tests share: the one <c>.ci/run</c> started (<c>CANARYFLOW_KUBECONFIG</c>), or else one this test process
/// starts itself with the control-plane script (<c>CANARYFLOW_KUBE_CONTROL_PLANE</c>, or <c>../shared/kube/control-plane</c>
/// beside the checkout) and stops when it exits. Tests isolate themselves by namespace.
/// The Canary CRD (as a user applies it) and minimal Istio CRDs are applied once, with kubectl.
/// </summary>
public sealed class RealControlPlane
{
    public const string Category = "RealKubernetes";
    public const string KubeconfigVariable = "CANARYFLOW_KUBECONFIG";
    public const string ScriptVariable = "CANARYFLOW_KUBE_CONTROL_PLANE";

    private static readonly Lazy<Task<RealControlPlane>> Shared = new(StartAsync);

    private RealControlPlane(string kubeconfigPath)
    {
        KubeconfigPath = kubeconfigPath;
        Admin = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath));
    }

    /// <summary>An admin kubeconfig (group system:masters) for the whole server.</summary>
    public string KubeconfigPath { get; }
    public IKubernetes Admin { get; }

    public static Task<RealControlPlane> GetAsync() => Shared.Value;

    /// <summary>A fresh namespace for one test (the server is shared by every test of the run).</summary>
    public async Task<string> NewNamespaceAsync(string prefix = "t")
    {
        var name = $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 11, 63)];
        await Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["canaryflow.dev/test"] = "true" } } });
        return name;
    }

    /// <summary>Deletes a test's namespace without waiting for it to go (its finalizers are the API server's business).</summary>
    public async Task DeleteNamespaceAsync(string name)
    {
        try { await Admin.CoreV1.DeleteNamespaceAsync(name, gracePeriodSeconds: 0); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
    }

    /// <summary>
    /// Compacts etcd's history up to its current revision, through etcd's own JSON gateway (no etcdctl needed) on the
    /// control-plane script's etcd client port (the API port + 1). The API server's watch cache still serves recent
    /// resourceVersions of the kinds it caches; Events are not cached (kube-apiserver's default watch-cache size for
    /// them is 0), so a watch of Events from before the compaction is answered with a 410 Expired ERROR event.
    /// </summary>
    public async Task CompactEtcdAsync()
    {
        var api = new Uri(KubernetesClientConfiguration.BuildConfigFromConfigFile(KubeconfigPath).Host);
        using var etcd = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{api.Port + 1}/"), Timeout = TimeSpan.FromSeconds(10) };
        var range = await etcd.PostAsync("v3/kv/range", new StringContent("""{"key":"Lw=="}"""));
        range.EnsureSuccessStatusCode();
        var revision = (string?)System.Text.Json.Nodes.JsonNode.Parse(await range.Content.ReadAsStringAsync())?["header"]?["revision"]
                       ?? throw new InvalidOperationException("etcd did not say its revision");
        var compacted = await etcd.PostAsync("v3/kv/compaction", new StringContent($$"""{"revision":"{{revision}}","physical":true}"""));
        compacted.EnsureSuccessStatusCode();
    }

    /// <summary>Runs kubectl against this server, as a user would; returns exit code and the combined output.</summary>
    public async Task<(int ExitCode, string Output)> KubectlAsync(params string[] args) => await Kubectl.RunAsync(KubeconfigPath, args);

    private static async Task<RealControlPlane> StartAsync()
    {
        var kubeconfig = Environment.GetEnvironmentVariable(KubeconfigVariable);
        if (string.IsNullOrEmpty(kubeconfig)) kubeconfig = await StartOwnAsync();
        var plane = new RealControlPlane(kubeconfig);
        await plane.InstallCrdsAsync();
        return plane;
    }

    private async Task InstallCrdsAsync()
    {
        // Every CRD of manifests/crd (the Canary and the metric templates), as a user applies them.
        var crds = Path.Combine(RepositoryRoot.Path, "manifests", "crd");
        var files = new[] { "canary.yaml", "metrictemplate.yaml", "clustermetrictemplate.yaml" }.SelectMany(f => new[] { "-f", Path.Combine(crds, f) });
        var istio = Path.Combine(AppContext.BaseDirectory, "Kubernetes", "Servers", "istio-crds.yaml");
        var (code, output) = await KubectlAsync(["apply", "--server-side", "--force-conflicts", .. files, "-f", istio]);
        if (code != 0) throw new InvalidOperationException("The real API server refused the CRDs:\n" + output);
        (code, output) = await KubectlAsync("wait", "--for=condition=Established", "--timeout=60s",
            "crd/canaries.canaryflow.dev", "crd/metrictemplates.canaryflow.dev", "crd/clustermetrictemplates.canaryflow.dev",
            "crd/virtualservices.networking.istio.io", "crd/destinationrules.networking.istio.io",
            "crd/httproutes.gateway.networking.k8s.io");
        if (code != 0) throw new InvalidOperationException("The CRDs were not established:\n" + output);
    }

    /// <summary>No server given: start one with the control-plane script, on free ports, stopped at process exit.</summary>
    private static async Task<string> StartOwnAsync()
    {
        var script = Environment.GetEnvironmentVariable(ScriptVariable);
        if (string.IsNullOrEmpty(script)) script = Path.GetFullPath(Path.Combine(RepositoryRoot.Path, "..", "shared", "kube", "control-plane"));
        if (!File.Exists(script))
            throw new InvalidOperationException($"No real Kubernetes API server for the {Category} tests: set {KubeconfigVariable} to a kubeconfig, " +
                                                $"or {ScriptVariable} to the control-plane script (not found at {script}).");
        var dir = Path.Combine(Path.GetTempPath(), $"canaryflow-kube-{Environment.ProcessId}");
        var port = FreePortRun(4);
        var start = await ChildProcess.RunAsync("bash", [script, "start", dir, "--port", port.ToString()], TimeSpan.FromMinutes(5));
        if (start.ExitCode != 0) throw new InvalidOperationException("control-plane start failed:\n" + start.Stdout + start.Stderr);
        ServicesScript.RunAtExit($"bash '{script}' stop '{dir}'");
        return Path.Combine(dir, "kubeconfig");
    }

    /// <summary>A port N such that N..N+count-1 are free on 127.0.0.1 (the script uses N+1..N+3 for etcd and the controller manager).</summary>
    private static int FreePortRun(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var candidate = Random.Shared.Next(20_000, 30_000);
            if (Enumerable.Range(candidate, count).All(IsFree)) return candidate;
        }
        throw new InvalidOperationException("no free port run for a control plane");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException) { return false; }
    }
}

/// <summary>kubectl, as a user runs it (it is on the image; Debian's own kubernetes-client is too old).</summary>
public static class Kubectl
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string kubeconfig, params string[] args)
    {
        var (code, stdout, stderr) = await ChildProcess.RunAsync("kubectl", ["--kubeconfig", kubeconfig, .. args], TimeSpan.FromMinutes(2));
        return (code, stdout + stderr);
    }
}

/// <summary>The two API servers the Kubernetes-facing tests run on.</summary>
public enum KubeServer
{
    /// <summary>The project's own sandbox (embedded default for the demo, fault injection).</summary>
    Sandbox,
    /// <summary>A real kube-apiserver v1.28.7 (see <see cref="RealControlPlane"/>).</summary>
    Real,
}

using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using CanaryFlow.Controller.Tests.Observability;
using k8s;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>A test class that needs CanaryFlow installed on the real API server (the install is made once per test run).</summary>
public abstract class ChartInstalledTest : IAsyncLifetime
{
    protected ChartInstall Install { get; private set; } = null!;
    public async Task InitializeAsync() => Install = await ChartInstall.GetAsync();
    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// Every install path of the README applied for real with <c>kubectl apply -f</c>, in the order a user would meet
/// them: the CRD, <c>manifests/install.yaml</c>, then the chart as real Helm renders it (default and custom values).
/// The exit codes and outputs are kept for the tests to judge; the chart's ServiceAccount then exists, and
/// <see cref="ControllerKubeconfig"/> holds a token the API server issued for it. Made once per test run and shared,
/// as the cluster-scoped objects it makes (namespace canaryflow, ClusterRole canaryflow, the CRD) are.
/// </summary>
public sealed class ChartInstall
{
    private static readonly Lazy<Task<ChartInstall>> Shared = new(async () =>
    {
        var install = new ChartInstall();
        await install.InstallAsync();
        return install;
    });

    public static Task<ChartInstall> GetAsync() => Shared.Value;

    public const string Namespace = "canaryflow";
    public const string ServiceAccount = "canaryflow";
    public const string ClusterRole = "canaryflow";

    public static string CrdFile => Path.Combine(RepositoryRoot.Path, "manifests", "crd", "canary.yaml");
    public static string InstallFile => Path.Combine(RepositoryRoot.Path, "manifests", "install.yaml");
    public static string Rendered(string file) => Path.Combine(RenderedManifests.Folder, file);

    public RealControlPlane Plane { get; private set; } = null!;
    public IKubernetes Admin => Plane.Admin;

    /// <summary>kubectl's exit code and output per applied file, in the order applied.</summary>
    public IReadOnlyDictionary<string, (int ExitCode, string Output)> Applied => _applied;
    private readonly Dictionary<string, (int, string)> _applied = [];

    /// <summary>A kubeconfig with a token issued for the chart's ServiceAccount (no admin credentials).</summary>
    public string ControllerKubeconfig { get; private set; } = "";

    /// <summary>Where the tests write kubeconfigs (a temporary folder of this test run).</summary>
    public string WorkFolder { get; } = Directory.CreateTempSubdirectory("canaryflow-realcluster-").FullName;

    private async Task InstallAsync()
    {
        Plane = await RealControlPlane.GetAsync();
        await EnsureExtraCrdsAsync(Plane);
        _ = RenderedManifests.Text("default.yaml"); // renders with real Helm when the folder is missing or stale
        foreach (var file in new[] { CrdFile, InstallFile, Rendered("default.yaml"), Rendered("custom.yaml") })
            _applied[file] = await Plane.KubectlAsync("apply", "-f", file);
        if (_applied[InstallFile].Item1 == 0)
            ControllerKubeconfig = await ServiceAccountKubeconfig.WriteAsync(Admin, Plane.KubeconfigPath, Namespace, ServiceAccount, WorkFolder);
    }

    /// <summary>The PeerAuthentication and ServiceMonitor CRDs the examples and the custom chart values need.</summary>
    public static async Task EnsureExtraCrdsAsync(RealControlPlane plane)
    {
        var file = Path.Combine(AppContext.BaseDirectory, "RealCluster", "extra-crds.yaml");
        var (code, output) = await plane.KubectlAsync("apply", "-f", file);
        if (code != 0) throw new InvalidOperationException("the real API server refused the extra CRDs:\n" + output);
        (code, output) = await plane.KubectlAsync("wait", "--for=condition=Established", "--timeout=60s", "-f", file);
        if (code != 0) throw new InvalidOperationException("the extra CRDs were not established:\n" + output);
    }
}

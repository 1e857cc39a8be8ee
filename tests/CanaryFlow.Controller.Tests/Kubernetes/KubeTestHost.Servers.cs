using CanaryFlow.Controller.Tests.Kubernetes.Servers;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>What a contract test (<see cref="TwoServerTest"/>) asks of either server in the same words.</summary>
public sealed partial class KubeTestHost
{
    /// <summary>Another replica of the controller's services on the same server and namespace (a second elector, the
    /// next controller after a crash). It owns neither the server nor the namespace.</summary>
    public async Task<KubeTestHost> StartBesideAsync(Dictionary<string, string?>? settings = null)
    {
        if (_sandbox is not null) return await StartAsync(settings, sharedSandbox: _sandbox);
        var all = new Dictionary<string, string?>(settings ?? []) { ["Kubernetes:Namespaces:0"] = Namespace, ["Kubernetes:LeaseNamespace"] = Namespace };
        return Build(Real.KubeconfigPath, Namespace, all, services => new KubeTestHost(null, _real, Namespace, null, services, false, ownsNamespace: false));
    }

    /// <summary>New pods of the Deployment never become Ready (a release that crashes), or, with <paramref name="fail"/>
    /// false, become Ready again: the sandbox's simulation, or the <see cref="FakeKubelet"/> on the real server.</summary>
    public void FailReady(string deployment, bool fail = true)
    {
        if (_sandbox is not null) { _sandbox.Deployments.FailReady(Namespace, deployment, fail); return; }
        if (fail) Kubelet!.FailReadyDeployments[deployment] = true;
        else Kubelet!.FailReadyDeployments.TryRemove(deployment, out _);
    }

    /// <summary>Makes the server forget the history before now, so that a watch from an older resourceVersion is
    /// answered 410 Gone: the sandbox's compaction, or a compaction of the real server's etcd.</summary>
    public async Task CompactAsync()
    {
        if (_sandbox is not null) _sandbox.Store.Compact();
        else await Real.CompactEtcdAsync();
    }

    /// <summary>JSON as the real server writes a custom object back (every object's keys sorted): compare a custom
    /// object's content with what a test sent in this form, since the server does not keep the client's key order.</summary>
    public static string Canonical(System.Text.Json.Nodes.JsonNode? node) => CanaryFlow.Sandbox.Kubernetes.Unstructured.Sorted(node)?.ToJsonString() ?? "null";
}

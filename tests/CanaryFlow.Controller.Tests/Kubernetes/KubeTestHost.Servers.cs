using k8s;
using k8s.Models;
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

    /// <summary>A plain Event in the test's namespace: Events are the kind the real server keeps no watch cache for, so a
    /// watch of them from before a compaction meets etcd's history (and its 410).</summary>
    public Task<Corev1Event> CreateEventAsync(string name) => Client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
    {
        Metadata = new V1ObjectMeta { Name = name },
        InvolvedObject = new V1ObjectReference { ApiVersion = "v1", Kind = "Pod", Name = "web", NamespaceProperty = Namespace },
        Reason = "Tested", Message = name, Type = "Normal", FirstTimestamp = DateTime.UtcNow, LastTimestamp = DateTime.UtcNow, Count = 1,
        Source = new V1EventSource { Component = "canaryflow-tests" },
    }, Namespace);

    /// <summary>JSON as the real server writes a custom object back (every object's keys sorted): compare a custom
    /// object's content with what a test sent in this form, since the server does not keep the client's key order.</summary>
    public static string Canonical(System.Text.Json.Nodes.JsonNode? node) => CanaryFlow.Sandbox.Kubernetes.Unstructured.Sorted(node)?.ToJsonString() ?? "null";
}

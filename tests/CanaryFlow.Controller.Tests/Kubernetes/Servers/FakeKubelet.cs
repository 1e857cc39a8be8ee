using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes.Servers;

/// <summary>
/// Does for one namespace of the real control plane what a kubelet would: the real ReplicaSet controller creates
/// Pods, which stay Pending without nodes; this binds each to a Node, reports it Running and Ready (so the real
/// ReplicaSet and Deployment controllers count it available), and completes the deletion of Pods being terminated
/// (a kubelet confirms those; without one they would stay Terminating forever).
/// <see cref="FailReady"/> makes new pods of a Deployment never become Ready, as a crashing release would.
/// </summary>
public sealed class FakeKubelet : IAsyncDisposable
{
    public const string NodeName = "canaryflow-fake-node";

    private readonly IKubernetes _client;
    private readonly string _namespace;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _nextIp;

    private FakeKubelet(IKubernetes client, string ns)
    {
        _client = client;
        _namespace = ns;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Pods whose labels include all of these are left unready (a release whose pods never become Ready).</summary>
    public Dictionary<string, string>? FailReady { get; set; }

    /// <summary>Deployments whose new pods are left unready (matched through the pod's ReplicaSet, named
    /// "&lt;deployment&gt;-&lt;pod-template-hash&gt;" by the real Deployment controller).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, bool> FailReadyDeployments { get; } = new();

    public static async Task<FakeKubelet> StartAsync(IKubernetes client, string ns)
    {
        try
        {
            await client.CoreV1.CreateNodeAsync(new V1Node
            {
                Metadata = new V1ObjectMeta { Name = NodeName },
                Spec = new V1NodeSpec(),
            });
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { }
        return new FakeKubelet(client, ns);
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var pods = await _client.CoreV1.ListNamespacedPodAsync(_namespace, cancellationToken: _stop.Token);
                foreach (var pod in pods.Items) await TendAsync(pod);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
            catch (HttpOperationException) { /* a pod that changed or went meanwhile: the next pass sees it as it is */ }
            catch (HttpRequestException) { }
            try { await Task.Delay(100, _stop.Token); } catch (OperationCanceledException) { return; }
        }
    }

    private async Task TendAsync(V1Pod pod)
    {
        var name = pod.Metadata.Name;
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            await _client.CoreV1.DeleteNamespacedPodAsync(name, _namespace, gracePeriodSeconds: 0, cancellationToken: _stop.Token);
            return;
        }
        if (string.IsNullOrEmpty(pod.Spec.NodeName))
        {
            await _client.CoreV1.CreateNamespacedPodBindingAsync(new V1Binding
            {
                Metadata = new V1ObjectMeta { Name = name },
                Target = new V1ObjectReference { ApiVersion = "v1", Kind = "Node", Name = NodeName },
            }, name, _namespace, cancellationToken: _stop.Token);
        }
        if (pod.Status?.Phase == "Running") return;
        if (FailReady is { } fail && fail.All(l => pod.Metadata.Labels?.TryGetValue(l.Key, out var v) == true && v == l.Value)) return;
        if (OfFailingDeployment(pod)) return;

        var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
        var ip = $"10.244.{Interlocked.Increment(ref _nextIp) / 250 % 250}.{_nextIp % 250 + 1}";
        JsonObject Condition(string type) => new() { ["type"] = type, ["status"] = "True", ["lastTransitionTime"] = now };
        var containers = new JsonArray(pod.Spec.Containers.Select(c => (JsonNode)new JsonObject
        {
            ["name"] = c.Name, ["image"] = c.Image, ["imageID"] = "", ["ready"] = true, ["started"] = true, ["restartCount"] = 0,
            ["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } },
        }).ToArray());
        var status = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["phase"] = "Running", ["podIP"] = ip, ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }),
                ["hostIP"] = "127.0.0.1", ["startTime"] = now,
                ["conditions"] = new JsonArray(Condition("PodScheduled"), Condition("Initialized"), Condition("ContainersReady"), Condition("Ready")),
                ["containerStatuses"] = containers,
            },
        }.ToJsonString();
        await _client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(status, V1Patch.PatchType.MergePatch), name, _namespace, cancellationToken: _stop.Token);
    }

    private bool OfFailingDeployment(V1Pod pod)
    {
        if (FailReadyDeployments.IsEmpty || pod.Metadata.Labels?.TryGetValue("pod-template-hash", out var hash) != true) return false;
        var owner = pod.Metadata.OwnerReferences?.FirstOrDefault(o => o.Kind == "ReplicaSet")?.Name;
        return owner is not null && FailReadyDeployments.Keys.Any(d => owner == $"{d}-{hash}");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _loop; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}

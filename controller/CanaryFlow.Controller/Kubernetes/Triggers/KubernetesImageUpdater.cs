using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Triggers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Triggers;

/// <summary>Sets a container image on the target Deployment with a JSON patch guarded by a test of the
/// container's name (so an index that moved can never hit another container); the watch does the rest.</summary>
public sealed class KubernetesImageUpdater(IKubernetes client, Deployments deployments) : IImageUpdater
{
    public async Task<bool> SetImageAsync(RolloutTarget target, string container, string image, CancellationToken cancellationToken)
    {
        var deployment = await deployments.ReadAsync(target.Namespace, target.Name, cancellationToken);
        var containers = deployment.Spec.Template.Spec.Containers;
        var index = containers.Select((c, i) => (c, i)).FirstOrDefault(x => x.c.Name == container, (null!, -1)).Item2;
        if (index < 0) throw new InvalidOperationException($"Deployment {target} has no container {container}.");
        if (containers[index].Image == image) return false;
        var patch = new JsonArray(
            JsonPatch.Test($"/spec/template/spec/containers/{index}/name", container),
            JsonPatch.Replace($"/spec/template/spec/containers/{index}/image", image));
        await client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.JsonPatch),
            target.Name, target.Namespace, cancellationToken: cancellationToken);
        return true;
    }
}

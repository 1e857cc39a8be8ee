using CanaryFlow.Controller.Kubernetes.Leadership;
using k8s;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Api;

/// <summary>Builds the one Kubernetes client of the process, from a kubeconfig or the in-cluster service account.</summary>
public static class KubernetesClientFactory
{
    public static IKubernetes Create(IOptions<KubernetesOptions> options, TimeProvider time, WriteFence fence)
    {
        var o = options.Value;
        var config = o.InCluster
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(o.KubeconfigPath, o.Context);
        return new k8s.Kubernetes(config, new ResilienceHandler(options, time, fence));
    }
}

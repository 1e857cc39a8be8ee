using CanaryFlow.Controller.Kubernetes.Leadership;
using k8s;
using k8s.Exceptions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Api;

/// <summary>Builds the one Kubernetes client of the process, from a kubeconfig or the in-cluster service account.</summary>
public static class KubernetesClientFactory
{
    /// <exception cref="KubernetesConfigurationException">The kubeconfig or the service account cannot be used.</exception>
    public static IKubernetes Create(IOptions<KubernetesOptions> options, TimeProvider time, WriteFence fence) =>
        new k8s.Kubernetes(Configuration(options.Value), new ResilienceHandler(options, time, fence));

    private static KubernetesClientConfiguration Configuration(KubernetesOptions o)
    {
        var source = o.InCluster ? "the in-cluster service account" : $"kubeconfig {o.KubeconfigPath ?? "~/.kube/config"}{(o.Context is null ? "" : $" context {o.Context}")}";
        try
        {
            return o.InCluster
                ? KubernetesClientConfiguration.InClusterConfig()
                : KubeconfigFile.Load(o.KubeconfigPath, o.Context);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            // Whatever the client's parser throws (it has no one exception type for a bad file), the cause is the file.
            // An empty or foreign file fails deep inside the client's parser with a NullReferenceException: say what it means.
            var why = e is NullReferenceException ? "it is empty or not a kubeconfig" : e.Message.TrimEnd('.');
            if (e is KubeConfigException && why.Contains("credentials", StringComparison.OrdinalIgnoreCase))
                why += " (a controller never prompts for them: give the user a token, a client certificate or an exec plugin)";
            throw new KubernetesConfigurationException($"Cannot use {source}: {why}", e);
        }
    }
}

/// <summary>The Kubernetes connection settings cannot be used; the message is one line for the operator.</summary>
public sealed class KubernetesConfigurationException(string message, Exception inner) : Exception(message, inner);

using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Leadership;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The request bound's limiter runs a timer until it is disposed: a disposed client must not leave one behind
/// (a test host that built hundreds of clients kept hundreds of timers ticking).</summary>
public sealed class ResilienceHandlerDisposalTests
{
    [Fact]
    public void Disposing_the_handler_disposes_its_request_bound()
    {
        var handler = new ResilienceHandler(Options.Create(new KubernetesOptions()), TimeProvider.System, new WriteFence(open: true));
        Assert.False(handler.TurnsDisposed);

        handler.Dispose();

        Assert.True(handler.TurnsDisposed);
    }

    [Fact]
    public void Disposing_a_client_from_the_factory_disposes_its_resilience_handler()
    {
        var folder = Directory.CreateTempSubdirectory("canaryflow-dispose-").FullName;
        var kubeconfig = Path.Combine(folder, "kubeconfig");
        File.WriteAllText(kubeconfig, """
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster:
                server: http://127.0.0.1:9
            users:
            - name: u
              user:
                token: t
            contexts:
            - name: c
              context:
                cluster: c
                user: u
            current-context: c
            """);
        var client = (k8s.Kubernetes)KubernetesClientFactory.Create(Options.Create(new KubernetesOptions { KubeconfigPath = kubeconfig }),
            TimeProvider.System, new WriteFence(open: true));
        // The client keeps its outermost handler in a protected property.
        var first = typeof(k8s.Kubernetes).GetProperty("FirstMessageHandler", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public)!;
        var handler = Assert.IsType<ResilienceHandler>(first.GetValue(client));

        client.Dispose();

        Assert.True(handler.TurnsDisposed);
        Directory.Delete(folder, recursive: true);
    }
}

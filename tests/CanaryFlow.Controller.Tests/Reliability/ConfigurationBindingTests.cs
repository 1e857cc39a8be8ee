using CanaryFlow.Controller.Kubernetes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Reliability;

/// <summary>Found by the faults harness: its controller, told to govern namespace "faults", also watched "default".</summary>
public sealed class ConfigurationBindingTests
{
    [Fact]
    public void Configured_namespaces_replace_the_default_namespace_rather_than_add_to_it()
    {
        var kubeconfig = Path.GetTempFileName();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kubernetes:KubeconfigPath"] = kubeconfig,
            ["Kubernetes:Namespaces:0"] = "payments",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddCanaryFlowKubernetes(configuration).BuildServiceProvider();

        var options = services.GetRequiredService<IOptions<KubernetesOptions>>().Value;

        // The configuration binder appends to a list that already has items: ["default", "payments"].
        Assert.Equal(["payments"], options.Namespaces);
        File.Delete(kubeconfig);
    }
}

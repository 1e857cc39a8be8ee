using CanaryFlow.Controller.Kubernetes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Kubernetes;

public sealed class KubernetesOptionsTests
{
    [Fact]
    public void A_bad_configuration_is_rejected_with_every_reason()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kubernetes:KubeconfigPath"] = "/nonexistent/kubeconfig",
            ["Kubernetes:Namespaces:0"] = "Not_A_Namespace",
            ["Kubernetes:LeaseDuration"] = "00:00:05",
            ["Kubernetes:RenewDeadline"] = "00:00:10",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddCanaryFlowKubernetes(configuration).BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<KubernetesOptions>>().Value);

        Assert.Contains(e.Failures, f => f.Contains("/nonexistent/kubeconfig does not exist"));
        Assert.Contains(e.Failures, f => f.Contains("\"Not_A_Namespace\" is not a valid namespace name"));
        Assert.Contains(e.Failures, f => f.Contains("RenewDeadline must be shorter than LeaseDuration"));
    }

    [Fact]
    public void Defaults_are_valid()
    {
        var result = new KubernetesOptionsValidator().Validate(null, new KubernetesOptions());
        Assert.True(result.Succeeded, result.FailureMessage);
    }
}

public sealed class KubernetesOptionsBindingTests
{
    [Fact]
    public void Configured_namespaces_replace_the_default()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kubernetes:Namespaces:0"] = "team-a",
            ["Kubernetes:Namespaces:1"] = "team-b",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddCanaryFlowKubernetes(configuration).BuildServiceProvider();

        Assert.Equal(["team-a", "team-b"], services.GetRequiredService<IOptions<KubernetesOptions>>().Value.Namespaces);
    }
}

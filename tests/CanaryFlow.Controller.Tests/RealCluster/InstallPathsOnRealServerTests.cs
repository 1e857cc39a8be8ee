using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using CanaryFlow.Controller.Tests.Observability;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// Every manifest the README names, applied with <c>kubectl apply -f</c> to the real kube-apiserver v1.28.7 (not a
/// dry run), then read back field by field. The sandbox accepted a CRD the real server refused (CEL cost); these
/// prove each install path on the server a user has.
/// </summary>
[Trait("Category", RealControlPlane.Category)]
public sealed class InstallPathsOnRealServerTests : ChartInstalledTest
{
    [Fact]
    public async Task CrdManifest_IsAcceptedAndReadsBackAsWritten_OnRealServer()
    {
        AssertApplied(ChartInstall.CrdFile);
        Assert.Empty(await ReadBack.DifferencesAsync(Install.Plane, ChartInstall.CrdFile));
        var (code, output) = await Install.Plane.KubectlAsync("get", "crd", "canaries.canaryflow.dev", "-o", "jsonpath={.status.conditions[?(@.type=='Established')].status}");
        Assert.True(code == 0 && output == "True", output);
    }

    [Fact]
    public async Task InstallYaml_AppliesOnItsOwn_NamespaceFirst_AndReadsBackAsWritten_OnRealServer()
    {
        var docs = RenderedManifests.Split("install.yaml", await File.ReadAllTextAsync(ChartInstall.InstallFile));
        // On a fresh cluster the namespace must come from the file itself, before anything that lives in it.
        var ns = docs.ToList().FindIndex(d => d.Kind == "Namespace" && d.Name == ChartInstall.Namespace);
        var firstNamespaced = docs.ToList().FindIndex(d => d.Json["metadata"]?["namespace"] is not null);
        Assert.True(ns >= 0 && ns < firstNamespaced, $"install.yaml has no Namespace {ChartInstall.Namespace} before its namespaced objects");
        AssertApplied(ChartInstall.InstallFile);
        Assert.Empty(await ReadBack.DifferencesAsync(Install.Plane, ChartInstall.InstallFile));
    }

    [Theory]
    [InlineData("default.yaml")]
    [InlineData("custom.yaml")]
    public async Task HelmTemplateOfTheChart_AppliesAndReadsBackAsWritten_OnRealServer(string rendered)
    {
        AssertApplied(ChartInstall.Rendered(rendered));
        Assert.Empty(await ReadBack.DifferencesAsync(Install.Plane, ChartInstall.Rendered(rendered)));
    }

    /// <summary>The user's own setup from the examples (namespace shop): Deployment, Service, v1/v2 DestinationRule,
    /// 90/10 VirtualService, PeerAuthentication, and the Canaries that adopt them.</summary>
    [Theory]
    [InlineData("checkout-service.yaml")]
    [InlineData("checkout-service-gated.yaml")]
    public async Task Example_AppliesAndReadsBackAsWritten_OnRealServer(string example)
    {
        var file = Path.Combine(RepositoryRoot.Path, "manifests", "examples", example);
        if (example != "checkout-service.yaml") // the gated Canary adopts checkout-service's objects: they come first
            Assert.Equal(0, (await Install.Plane.KubectlAsync("apply", "-f", Path.Combine(RepositoryRoot.Path, "manifests", "examples", "checkout-service.yaml"))).ExitCode);
        var (code, output) = await Install.Plane.KubectlAsync("apply", "-f", file);
        Assert.True(code == 0, output);
        Assert.Empty(await ReadBack.DifferencesAsync(Install.Plane, file));
    }

    [Fact]
    public void EveryExample_IsCoveredByATest()
    {
        var examples = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "manifests", "examples"), "*.yaml").Select(Path.GetFileName).Order();
        Assert.Equal(["checkout-service-gated.yaml", "checkout-service.yaml"], examples);
    }

    private void AssertApplied(string file)
    {
        var (code, output) = Install.Applied[file];
        Assert.True(code == 0, $"kubectl apply -f {file} failed ({code}):\n{output}");
    }
}

using CanaryFlow.Controller.Tests.Infrastructure;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The chart installs exactly the CRDs of manifests/crd (the Canary and the metric templates), and
/// install.yaml (rendered from the chart) holds each of them.</summary>
public sealed class CrdCopiesTests
{
    public static TheoryData<string> Crds => new(Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "manifests", "crd"), "*.yaml")
        .Select(Path.GetFileName).Where(f => f != "kustomization.yaml" && !f!.StartsWith("example", StringComparison.Ordinal))!);

    [Theory]
    [MemberData(nameof(Crds))]
    public void Every_CRD_is_in_the_chart_and_in_install_yaml_as_it_is_in_manifests_crd(string file)
    {
        var crd = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "crd", file));
        Assert.Equal(crd, File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "helm", "canaryflow", "crds", file)));
        var name = crd.Split('\n').First(l => l.TrimStart().StartsWith("name:", StringComparison.Ordinal)).Trim();
        Assert.Contains(name, File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "install.yaml")));
        Assert.Contains(file, File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "crd", "kustomization.yaml")));
    }
}

using System.Text.Json.Nodes;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Observability;

namespace CanaryFlow.Controller.Tests.Hosting;

/// <summary>The runtime settings the built controller ships with (its runtimeconfig.json), chosen for one small pod:
/// see docs/benchmarks.md, "One replica under 300 MB".</summary>
public sealed class RuntimeSettingsTests
{
    private static JsonNode Settings() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "CanaryFlow.Controller.runtimeconfig.json")))!["runtimeOptions"]!["configProperties"]!;

    [Fact]
    public void The_built_controller_collects_in_the_foreground_and_conserves_memory()
    {
        var settings = Settings();
        Assert.False((bool?)settings["System.GC.Concurrent"] ?? true); // background collections let the heap grow meanwhile
        Assert.Equal(5, (int?)settings["System.GC.ConserveMemory"]);
    }

    [Fact]
    public void The_built_controller_compiles_each_method_once()
    {
        Assert.False((bool?)Settings()["System.Runtime.TieredCompilation"] ?? true);
    }

    [Fact]
    public void On_linux_with_glibc_the_controller_limits_mallocs_arenas_unless_the_environment_says_otherwise()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/lib/x86_64-linux-gnu/libc.so.6") && !File.Exists("/lib/aarch64-linux-gnu/libc.so.6"))
            return; // glibc's mallopt only
        Assert.Equal(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX")), NativeHeap.LimitArenas());
    }

    /// <summary>The environment of the controller container in each way of deploying it: the chart rendered with default
    /// and with CI values, install.yaml, and the kustomize Deployment.</summary>
    public static TheoryData<string> Deployments => new() { "default.yaml", "custom.yaml", "install.yaml", "kustomize" };

    [Theory]
    [MemberData(nameof(Deployments))]
    public void Every_deployment_gives_the_controller_the_runtime_settings_only_the_environment_can_give(string rendering)
    {
        var deployment = rendering == "kustomize"
            ? RenderedManifests.Split("controller.yaml", File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "controller", "controller.yaml"))).Single(d => d.Kind == "Deployment")
            : RenderedManifests.In(rendering).Single(d => d.Kind == "Deployment");
        var container = deployment.Json["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single(c => (string?)c!["name"] == "controller")!;
        var env = container["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => (string?)e!["value"]);
        Assert.NotEmpty(RuntimeEnvironment.Settings);
        foreach (var (name, value) in RuntimeEnvironment.Settings)
            Assert.True(env.TryGetValue(name, out var set) && set == value, $"{rendering}: {name} is {(set ?? "not set")}, not {value}");
    }
}

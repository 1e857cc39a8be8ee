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

    /// <summary>The runtime reads these names exactly as written: DOTNET_GCgen0MaxBudget (lower-case g) is ignored without a
    /// word, which once left a setting measured as useless that had never been read. The controller says so at start.
    /// A missing kubeconfig ends the process right after the check, so no cluster is needed.</summary>
    [Theory]
    [InlineData("", false)]
    [InlineData("DOTNET_GCGen0MaxBudget=;DOTNET_GCgen0MaxBudget=0x1000000", true)]
    [InlineData("MALLOC_ARENA_MAX=8", true)]
    public async Task The_controller_warns_at_start_when_a_runtime_setting_of_the_manifests_is_not_in_effect(string environment, bool warned)
    {
        var folder = Directory.CreateTempSubdirectory("canaryflow-runtime-").FullName;
        await using var controller = ControllerProcess.Start(new Dictionary<string, string>
        {
            ["urls"] = $"http://127.0.0.1:{RabbitMqBroker.FreePort()}",
            ["Kubernetes:KubeconfigPath"] = Path.Combine(folder, "no-such-kubeconfig"),
            ["Kubernetes:Namespaces:0"] = "runtime",
            ["Prometheus:Address"] = "http://127.0.0.1:9/",
            ["Rollouts:StateDirectory"] = Path.Combine(folder, "state"),
            ["Notifications:DataPath"] = Path.Combine(folder, "notifications"),
        }, environment: environment);

        Assert.Equal(ControllerStartup.ConfigurationError, await controller.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var output = controller.Stdout + controller.Stderr;
        var named = environment.StartsWith("MALLOC", StringComparison.Ordinal) ? "MALLOC_ARENA_MAX=2" : "DOTNET_GCGen0MaxBudget=0x1000000";
        Assert.Equal(warned, output.Contains("Running without runtime settings", StringComparison.Ordinal));
        Assert.Equal(warned, output.Contains(named, StringComparison.Ordinal));
    }
}

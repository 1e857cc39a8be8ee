using System.Text.Json.Nodes;

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
    public void The_built_controller_tiers_without_instrumented_code()
    {
        Assert.False((bool?)Settings()["System.Runtime.TieredPGO"] ?? true);
    }
}

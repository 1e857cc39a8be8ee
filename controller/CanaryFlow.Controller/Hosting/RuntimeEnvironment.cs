namespace CanaryFlow.Controller.Hosting;

/// <summary>
/// Runtime settings that only the environment can give: the runtime reads them before <c>Main</c>, and
/// runtimeconfig.json has no name for them (the settings it does have are in the project file). The Helm chart,
/// install.yaml and the kustomize Deployment set them in the controller's container, and the tests' and benchmarks'
/// controller processes get them too, so that every measured controller runs as a deployed one. Figures:
/// docs/benchmarks.md, "One replica under 300 MB".
/// </summary>
public static class RuntimeEnvironment
{
    public static IReadOnlyList<KeyValuePair<string, string>> Settings { get; } =
    [
        // Two malloc arenas from the first thread on (NativeHeap sets it too, but only once threads have made their own).
        new("MALLOC_ARENA_MAX", "2"),
        // The gen0 budget's floor at 8 MB: by default the GC sizes it from the CPU cache (~55 MB on the benchmark
        // machine) and raises it when much survives; in the 1,000-Canary run it then averaged ~92 MB allocated per gen0
        // collection, with it ~58 MB, and the peak RSS was 404-419 MiB instead of 428-448. Read from the environment only:
        // as System.GC.Gen0Size or GCgen0size in runtimeconfig.json it has no effect (checked on .NET 10).
        new("DOTNET_GCgen0size", "0x800000"),
    ];
}

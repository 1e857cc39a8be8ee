using System.Globalization;

namespace CanaryFlow.Controller.Hosting;

/// <summary>
/// Runtime settings given through the environment: the runtime reads them before <c>Main</c>, and runtimeconfig.json
/// has no name for the malloc setting, the gen0 floor, the gen1 ceiling and ready-to-run code (the settings it does have are in the project
/// file; the gen0 ceiling is kept here, beside the other budgets). The Helm chart,
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
        // And ceilings for the gen0 and gen1 budgets at 16 MB. Without them the GC let gen0 grow to ~58 MB and gen1 to
        // 63-84 MB between collections at 1,000 Canaries, all of it committed; with them the committed heap peaked at
        // 172-189 MiB instead of 252-290 and RSS at 341-355 MiB instead of 421-459, for twice the collections and GC pause
        // (~6 % of the run) but no more CPU in all. The names are case-sensitive: DOTNET_GCgen0MaxBudget, tried
        // before, was ignored. GCGen1MaxBudget has no runtimeconfig.json name; both budgets are kept in this one list.
        new("DOTNET_GCGen0MaxBudget", "0x1000000"),
        new("DOTNET_GCGen1MaxBudget", "0x1000000"),
        // The framework's ready-to-run code not used: with tiering off (runtimeconfig.json) that code was run as shipped,
        // never recompiled, and it is slower than the JIT's (no inlining across assemblies, indirections); now each method
        // the controller runs is compiled once, fully optimised, at its first call. Engine at 1,000 active rollouts, in
        // alternated runs: 1,383-1,428 instead of 1,173-1,240 transitions per CPU-second, p99 check -> weight under 50 ms in
        // 7 of 10 runs instead of 2 of 12; the 1,000-Canary load run: 115-132 instead of 90-102 transitions per CPU-second,
        // peak RSS 243-248 instead of 249-262 MiB. Start-up compiles more (0.6 s more to the configuration check).
        // Figures: docs/benchmarks.md, "Ready-to-run code off". Tiering back on (DOTNET_TieredCompilation=1) gained as much
        // CPU but cost ~26 MiB of RSS. Read from the environment only (no runtimeconfig.json name).
        new("DOTNET_ReadyToRun", "0"),
    ];

    /// <summary>The settings of <see cref="Settings"/> this process does not run with, as "NAME=value": a variable that is
    /// missing or has another value (by exact name, as the runtime reads them). Where the GC reports the value it took
    /// (<see cref="GC.GetConfigurationVariables"/>, e.g. GCGen0MaxBudget), that value is compared instead, so a setting
    /// the runtime did not read counts as missing even when a variable of a similar name is there. Never throws: whatever
    /// the GC reports, the answer is only a warning.</summary>
    public static IReadOnlyList<string> NotInEffect()
    {
        var read = GC.GetConfigurationVariables();
        var missing = new List<string>();
        foreach (var (name, value) in Settings)
        {
            var inEffect = name.StartsWith("DOTNET_", StringComparison.Ordinal) && read.TryGetValue(name["DOTNET_".Length..], out var taken)
                ? ulong.TryParse(Convert.ToString(taken, CultureInfo.InvariantCulture), CultureInfo.InvariantCulture, out var took) && took == Convert.ToUInt64(value, 16)
                : Environment.GetEnvironmentVariable(name) == value;
            if (!inEffect) missing.Add($"{name}={value}");
        }
        return missing;
    }
}

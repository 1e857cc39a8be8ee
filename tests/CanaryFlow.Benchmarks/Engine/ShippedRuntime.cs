using System.Diagnostics;
using CanaryFlow.Controller.Hosting;

namespace CanaryFlow.Benchmarks.Engine;

/// <summary>
/// The engine benchmark runs the engine in this harness' process, so by default under the runtime's defaults (tiered
/// compilation with its profile-guided tier, background GC, the GC's own budgets), not under the settings the controller
/// ships with: its runtimeconfig.json (no tiered compilation, no background GC, ConserveMemory) and the environment of
/// <see cref="RuntimeEnvironment"/> (gen0 and gen1 budgets, malloc arenas, no ready-to-run code), chosen to keep one replica small and cheap.
/// <c>--as-shipped</c> runs this harness again under both, so that the engine is measured as a deployed controller runs it.
/// </summary>
public static class ShippedRuntime
{
    public const string Flag = "--as-shipped";

    public static async Task<int> RunAgainAsync(string command, IEnumerable<string> args)
    {
        var here = AppContext.BaseDirectory;
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        foreach (var arg in new[] { "exec", "--runtimeconfig", Path.Combine(here, "CanaryFlow.Controller.runtimeconfig.json"), Path.Combine(here, "CanaryFlow.Benchmarks.dll"), command }
                     .Concat(args.Where(a => a != Flag)))
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in RuntimeEnvironment.Settings) start.Environment[name] = value;
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start the harness again");
        await child.WaitForExitAsync();
        return child.ExitCode;
    }

    /// <summary>A runtime knob's environment variable, which wins over runtimeconfig.json (so the header says what ran).</summary>
    private static string? Knob(string name) =>
        Environment.GetEnvironmentVariable("DOTNET_" + name) ?? Environment.GetEnvironmentVariable("COMPlus_" + name);

    /// <summary>What this process runs with, for the figures' header.</summary>
    public static string Describe()
    {
        var gc = GC.GetConfigurationVariables();
        string Gc(string name) => gc.TryGetValue(name, out var v) ? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "?" : "?";
        return $"tiered compilation {Knob("TieredCompilation") ?? AppContext.GetData("System.Runtime.TieredCompilation") ?? "default (on)"}, " +
               $"ready-to-run code {Knob("ReadyToRun") ?? "default (used)"}, background GC {Gc("ConcurrentGC")}, " +
               $"ConserveMemory {Gc("GCConserveMem")}, gen0 max budget {Gc("GCGen0MaxBudget")}, missing of the controller's environment: " +
               $"{(RuntimeEnvironment.NotInEffect() is { Count: > 0 } missing ? string.Join(" ", missing) : "none")}";
    }
}

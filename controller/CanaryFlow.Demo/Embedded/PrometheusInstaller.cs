using System.Diagnostics;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Demo.Embedded;

/// <summary>Finds the Prometheus server binary, or fetches it from Debian's package with the
/// project's own script (the same one CI uses), or says exactly what to install.</summary>
public static class PrometheusInstaller
{
    public static async Task<bool> EnsureAsync()
    {
        try { PrometheusProcess.FindBinary(); return true; }
        catch (InvalidOperationException) { }

        var root = FindRepositoryRoot();
        if (root is null || Environment.UserName != "root")
        {
            Console.Error.WriteLine("Prometheus is needed: `sudo apt-get install prometheus` (Debian), or set PROMETHEUS_BIN to a prometheus binary.");
            return false;
        }
        Console.WriteLine("Prometheus is missing: fetching Debian's package (server binary only) into .ci-work/prometheus ...");
        var folder = Path.Combine(root, ".ci-work", "prometheus");
        var psi = new ProcessStartInfo("bash", ["-c", $"source .ci/services.sh && ensure_prometheus '{folder}' && echo \"$PROMETHEUS_BIN\""])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var output = (await p.StandardOutput.ReadToEndAsync()).Trim().Split('\n').LastOrDefault();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0 || string.IsNullOrEmpty(output) || !File.Exists(output))
        {
            Console.Error.WriteLine("Could not fetch Prometheus: `sudo apt-get install prometheus` (Debian), or set PROMETHEUS_BIN.");
            return false;
        }
        Environment.SetEnvironmentVariable("PROMETHEUS_BIN", output);
        return true;
    }

    private static string? FindRepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, ".ci", "services.sh"))) return dir.FullName;
        return null;
    }
}

using System.Diagnostics;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// The controller as users run it: its own process (<c>dotnet CanaryFlow.Controller.dll --Key=value …</c>),
/// killed with SIGKILL (no shutdown hook runs) and started again like a pod. Output goes to a log file.
/// </summary>
public sealed class ControllerProcess : IDisposable
{
    private readonly Process _process;

    private ControllerProcess(Process process, string log)
    {
        _process = process;
        Log = log;
    }

    public int Id => _process.Id;
    public string Log { get; }
    public bool HasExited => _process.HasExited;

    /// <summary>CANARYFLOW_CONTROLLER_DLL, else the Release build next to this repository's benchmarks.</summary>
    public static string FindDll()
    {
        var fromEnv = Environment.GetEnvironmentVariable("CANARYFLOW_CONTROLLER_DLL");
        if (!string.IsNullOrEmpty(fromEnv)) return fromEnv;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            foreach (var config in new[] { "Release", "Debug" })
            {
                var dll = Path.Combine(dir.FullName, "controller", "CanaryFlow.Controller", "bin", config, "net10.0", "CanaryFlow.Controller.dll");
                if (File.Exists(dll)) return dll;
            }
        throw new InvalidOperationException("CanaryFlow.Controller.dll not found: build controller/CanaryFlow.Controller or set CANARYFLOW_CONTROLLER_DLL.");
    }

    /// <param name="environment">Runtime settings for this process only, after CANARYFLOW_CONTROLLER_ENV's (both
    /// "NAME=value;NAME=value"): replicas of one run compared under different GC settings.</param>
    public static ControllerProcess Start(IReadOnlyDictionary<string, string> settings, string log, string? environment = null)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(FindDll());
        foreach (var (key, value) in settings) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["DOTNET_gcServer"] = "0";
        // Runtime settings to compare (GC knobs such as DOTNET_GCgen0size, DOTNET_gcConcurrent): "NAME=value;NAME=value".
        foreach (var pair in $"{Environment.GetEnvironmentVariable("CANARYFLOW_CONTROLLER_ENV")};{environment}".Split(';', StringSplitOptions.RemoveEmptyEntries))
            if (pair.Split('=', 2) is [var name, var value]) info.Environment[name.Trim()] = value.Trim();
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the controller");
        var writer = TextWriter.Synchronized(new StreamWriter(log, append: true) { AutoFlush = true });
        writer.WriteLine($"---- started pid {process.Id} at {DateTime.UtcNow:O}");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) writer.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ControllerProcess(process, log);
    }

    /// <summary>SIGKILL: the process gets no chance to finish anything.</summary>
    public void Kill()
    {
        if (_disposed || _process.HasExited) return;
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit(10_000);
    }

    /// <summary>CPU seconds used so far and resident memory now, from /proc (Linux).</summary>
    public (double CpuSeconds, long RssBytes) Usage()
    {
        try
        {
            var rssPages = long.Parse(File.ReadAllText($"/proc/{Id}/statm").Split(' ')[1]);
            return (CpuSecondsOf(Id), rssPages * Environment.SystemPageSize);
        }
        catch (IOException) { return (0, 0); }
    }

    /// <summary>CPU seconds a process has used so far (utime + stime from /proc, Linux); 0 once it is gone.</summary>
    public static double CpuSecondsOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // in clock ticks (100/s)
        }
        catch (IOException) { return 0; }
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        Kill();
        _disposed = true;
        _process.Dispose();
    }
}

using System.Diagnostics;
using System.Text;

namespace CanaryFlow.Testing;

/// <summary>
/// The controller as users run it: its own process (<c>dotnet CanaryFlow.Controller.dll --Key=value …</c>) with
/// standard input closed, optionally under <c>strace</c>. Output is kept in memory for assertions, or, for long runs
/// (benchmarks that kill and restart it like a pod), appended to a log file. One class for the tests and the
/// benchmarks: this file is compiled into both projects.
/// </summary>
public sealed class ControllerProcess : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TextWriter? _log;
    private readonly bool _traced;
    private bool _disposed;

    private ControllerProcess(Process process, bool traced, string? log)
    {
        _process = process;
        _traced = traced;
        Log = log;
        if (log is not null)
        {
            _log = TextWriter.Synchronized(new StreamWriter(log, append: true) { AutoFlush = true });
            _log.WriteLine($"---- started pid {process.Id} at {DateTime.UtcNow:O}");
        }
        process.OutputDataReceived += (_, e) => Received(_stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Received(_stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // A controller must never wait for a person: nothing on stdin, and end-of-file at once.
        process.StandardInput.Close();
    }

    private void Received(StringBuilder into, string? line)
    {
        if (line is null) return;
        if (_log is not null) _log.WriteLine(line); // a long run's output goes to its file, not into memory
        else lock (into) into.AppendLine(line);
    }

    public int Id => _process.Id;
    /// <summary>The log file the output goes to, or null when it is kept in memory.</summary>
    public string? Log { get; }
    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;

    /// <summary>CANARYFLOW_CONTROLLER_DLL, else the controller built with this project (same configuration), next to
    /// its assembly, else a build of it in this repository.</summary>
    public static string Dll
    {
        get
        {
            if (Environment.GetEnvironmentVariable("CANARYFLOW_CONTROLLER_DLL") is { Length: > 0 } fromEnv) return fromEnv;
            var beside = Path.Combine(AppContext.BaseDirectory, "CanaryFlow.Controller.dll");
            if (File.Exists(beside)) return beside;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                foreach (var config in new[] { "Release", "Debug" })
                {
                    var dll = Path.Combine(dir.FullName, "controller", "CanaryFlow.Controller", "bin", config, "net10.0", "CanaryFlow.Controller.dll");
                    if (File.Exists(dll)) return dll;
                }
            throw new InvalidOperationException("CanaryFlow.Controller.dll not found: build controller/CanaryFlow.Controller or set CANARYFLOW_CONTROLLER_DLL.");
        }
    }

    /// <summary>
    /// Starts the controller. With <paramref name="log"/>, its output is appended to that file. With
    /// <paramref name="straceOutput"/>, it runs under <c>strace -f -e trace=connect</c>. With
    /// <paramref name="hostingStartup"/>, that test type's assembly is loaded as an ASP.NET hosting startup (the
    /// process then resolves assemblies from this test project's dependency list, a superset of the controller's).
    /// The process gets the environment the manifests give the controller's container (<c>RuntimeEnvironment</c>), then
    /// CANARYFLOW_CONTROLLER_ENV's settings, then <paramref name="environment"/>'s, for this process only (both
    /// "NAME=value;NAME=value"): replicas of one run compared under different GC settings.
    /// </summary>
    public static ControllerProcess Start(IReadOnlyDictionary<string, string> settings, string? log = null, string? straceOutput = null,
        Type? hostingStartup = null, string? environment = null)
    {
        var dll = Dll;
        var info = new ProcessStartInfo(straceOutput is null ? "dotnet" : "strace")
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = Directory.CreateTempSubdirectory("canaryflow-process-").FullName,
        };
        if (straceOutput is not null)
            foreach (var a in new[] { "-f", "-qq", "-e", "trace=connect", "-o", straceOutput, "dotnet" }) info.ArgumentList.Add(a);
        if (hostingStartup is not null)
        {
            var tests = Path.Combine(AppContext.BaseDirectory, hostingStartup.Assembly.GetName().Name!);
            foreach (var a in new[] { "exec", "--depsfile", tests + ".deps.json", "--runtimeconfig", Path.ChangeExtension(dll, ".runtimeconfig.json") })
                info.ArgumentList.Add(a);
            info.Environment["ASPNETCORE_HOSTINGSTARTUPASSEMBLIES"] = hostingStartup.Assembly.GetName().Name;
        }
        info.ArgumentList.Add(dll);
        foreach (var (key, value) in settings) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["DOTNET_gcServer"] = "0";
        // What the manifests give the controller's container; CANARYFLOW_CONTROLLER_ENV and environment may override.
        foreach (var (name, value) in CanaryFlow.Controller.Hosting.RuntimeEnvironment.Settings) info.Environment[name] = value;
        foreach (var pair in $"{Environment.GetEnvironmentVariable("CANARYFLOW_CONTROLLER_ENV")};{environment}".Split(';', StringSplitOptions.RemoveEmptyEntries))
            if (pair.Split('=', 2) is [var name, var value]) info.Environment[name.Trim()] = value.Trim();
        // The user's environment must not be what keeps the process quiet: the product has to.
        info.Environment.Remove("MASSTRANSIT_USAGE_TELEMETRY");
        return new ControllerProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start " + info.FileName),
            straceOutput is not null, log);
    }

    /// <summary>Exit code, or null when it was still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { return null; }
        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>
    /// Ends the controller with SIGKILL: no shutdown hook runs. Under strace the traced child goes first, so strace sees
    /// it exit and finishes its output file; then strace itself, if it is still there.
    /// </summary>
    public async Task StopAsync()
    {
        if (_disposed || _process.HasExited) return;
        if (!_traced)
        {
            _process.Kill();
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
            return;
        }
        foreach (var child in Children(_process.Id))
            try { using var p = Process.GetProcessById(child); p.Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        if (await WaitForExitAsync(TimeSpan.FromSeconds(10)) is null)
        {
            _process.Kill(entireProcessTree: true);
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary><see cref="StopAsync"/> for callers that are not asynchronous (the benchmarks' kill loops).</summary>
    public void Kill() => StopAsync().GetAwaiter().GetResult();

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

    private static IEnumerable<int> Children(int pid)
    {
        var tasks = $"/proc/{pid}/task";
        if (!Directory.Exists(tasks)) return [];
        var children = new List<int>();
        foreach (var task in Directory.GetDirectories(tasks))
            try
            {
                children.AddRange(File.ReadAllText(Path.Combine(task, "children"))
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse));
            }
            catch (IOException) { }
        return children;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Dispose();
    }

    public void Dispose()
    {
        if (_disposed) return;
        Kill();
        _disposed = true;
        _process.Dispose();
    }
}

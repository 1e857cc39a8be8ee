using System.Diagnostics;
using System.Text;

namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>
/// The controller as users run it: its own process (<c>dotnet CanaryFlow.Controller.dll --Key=value …</c>)
/// with standard input closed, optionally under <c>strace</c> (<see cref="ConnectTrace"/>). Output is kept
/// in memory for assertions.
/// </summary>
public sealed class ControllerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private readonly bool _traced;

    private ControllerProcess(Process process, bool traced)
    {
        _process = process;
        _traced = traced;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // A controller must never wait for a person: nothing on stdin, and end-of-file at once.
        process.StandardInput.Close();
    }

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>The controller built with this test project (same configuration), next to the test assembly.</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "CanaryFlow.Controller.dll");

    /// <summary>
    /// Starts the controller; with <paramref name="straceOutput"/>, under <c>strace -f -e trace=connect</c>. With
    /// <paramref name="hostingStartup"/>, that test type's assembly is loaded as an ASP.NET hosting startup (the
    /// process then resolves assemblies from this test project's dependency list, a superset of the controller's).
    /// </summary>
    public static ControllerProcess Start(IReadOnlyDictionary<string, string> settings, string? straceOutput = null,
        Type? hostingStartup = null)
    {
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
            foreach (var a in new[] { "exec", "--depsfile", tests + ".deps.json", "--runtimeconfig", Path.ChangeExtension(Dll, ".runtimeconfig.json") })
                info.ArgumentList.Add(a);
            info.Environment["ASPNETCORE_HOSTINGSTARTUPASSEMBLIES"] = hostingStartup.Assembly.GetName().Name;
        }
        info.ArgumentList.Add(Dll);
        foreach (var (key, value) in settings) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["DOTNET_gcServer"] = "0";
        // The user's environment must not be what keeps the process quiet: the product has to.
        info.Environment.Remove("MASSTRANSIT_USAGE_TELEMETRY");
        return new ControllerProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start " + info.FileName),
            straceOutput is not null);
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

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Ends the controller with SIGKILL. Under strace the traced child goes first, so strace sees it exit
    /// and finishes its output file; then strace itself, if it is still there.
    /// </summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
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
        _process.Dispose();
    }
}

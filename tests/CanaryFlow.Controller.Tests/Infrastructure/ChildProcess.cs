using System.Diagnostics;

namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>Runs a program the tests need (bash, kubectl) to its end, bounded: one still running after its limit is
/// killed with its children and fails the caller, so a stuck tool fails one test instead of hanging the test run.</summary>
public static class ChildProcess
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, TimeSpan limit,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
        using var p = Process.Start(info) ?? throw new InvalidOperationException($"{file} could not start");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using (var bound = new CancellationTokenSource(limit))
        {
            try { await p.WaitForExitAsync(bound.Token); }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"`{file} {string.Join(' ', info.ArgumentList)}` was still running after {limit}; killed");
            }
        }
        // A daemon the program started could hold the pipes open: the output is read for a bounded time only.
        var read = TimeSpan.FromSeconds(30);
        return (p.ExitCode, await stdout.WaitAsync(read), await stderr.WaitAsync(read));
    }
}

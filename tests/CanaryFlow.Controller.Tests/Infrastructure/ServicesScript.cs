using System.Diagnostics;

namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>Runs a bash command in the repository root (the tests' way into .ci/services.sh), bounded: a command still
/// running after <see cref="Limit"/> is killed with its children and fails the caller, so a stuck broker CLI fails
/// one test instead of hanging the test run.</summary>
public static class ServicesScript
{
    /// <summary>Longer than services.sh's own bound on each rabbitmqctl call (330 s), which should speak first.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromMinutes(6);

    public static async Task<string> RunAsync(string command)
    {
        var psi = new ProcessStartInfo("bash", ["-c", command])
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using (var limit = new CancellationTokenSource(Limit))
        {
            try { await p.WaitForExitAsync(limit.Token); }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"`{command}` was still running after {Limit.TotalMinutes} min; killed");
            }
        }
        // A daemon the command started could hold the pipes open: the output is read for a bounded time only.
        var output = await stdout.WaitAsync(TimeSpan.FromSeconds(30));
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"`{command}` failed ({p.ExitCode}): {await stderr.WaitAsync(TimeSpan.FromSeconds(30))} {output}");
        return output;
    }
}

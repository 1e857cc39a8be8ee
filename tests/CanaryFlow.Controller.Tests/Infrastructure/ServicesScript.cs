using System.Diagnostics;

namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>Runs a bash command in the repository root: the tests' way into .ci/services.sh.</summary>
public static class ServicesScript
{
    /// <summary>Longer than services.sh's own bound on each rabbitmqctl call (330 s), which should speak first.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(6);

    /// <summary>The command's output; a command that fails or outlasts <see cref="Limit"/> throws.</summary>
    public static async Task<string> RunAsync(string command)
    {
        var (code, stdout, stderr) = await ChildProcess.RunAsync("bash", ["-c", command], Limit, RepositoryRoot.Path);
        if (code != 0) throw new InvalidOperationException($"`{command}` failed ({code}): {stderr} {stdout}");
        return stdout;
    }

    /// <summary>Starts the command when the test host exits (it stops what the tests started), detached from the host
    /// and not waited for: the test runner kills a host soon after its last test, so a handler that waited kept the
    /// handlers after it from starting, and a command writing to the dead host's pipes died with it (a private broker
    /// and 3-node cluster outlived test runs so).</summary>
    public static void RunAtExit(string command) =>
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            Process.Start(new ProcessStartInfo("bash", ["-c", $"( {command} ) >/dev/null 2>&1 </dev/null"]) { WorkingDirectory = RepositoryRoot.Path })?.Dispose();
}

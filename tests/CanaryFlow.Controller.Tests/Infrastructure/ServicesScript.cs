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
}

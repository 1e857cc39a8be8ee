using System.Diagnostics;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Infrastructure;

namespace CanaryFlow.Controller.Tests.Storage;

/// <summary>Nothing the controller writes at run time lands in the checkout or the folder it was started from.</summary>
public sealed class RuntimeDataLocationTests
{
    public static TheoryData<string, string> DefaultFolders() => new()
    {
        { "Rollouts:StateDirectory", new RolloutEngineOptions().StateDirectory },
        { "Notifications:DataPath", new NotificationOptions().DataPath },
    };

    [Theory]
    [MemberData(nameof(DefaultFolders))]
    public void Default_data_folders_are_outside_the_working_folder_and_the_checkout(string setting, string folder)
    {
        var full = Path.GetFullPath(folder);
        Assert.True(Path.IsPathFullyQualified(folder), $"{setting} default '{folder}' is relative to the working folder");
        Assert.False(IsUnder(full, Directory.GetCurrentDirectory()), $"{setting} default {full} is under the working folder");
        Assert.False(IsUnder(full, RepositoryRoot.Path), $"{setting} default {full} is under the checkout");
        Assert.StartsWith(DataFolders.Root(), full, StringComparison.Ordinal);
    }

    [Fact]
    public void The_repository_tracks_no_runtime_files()
    {
        var psi = new ProcessStartInfo("git", ["ls-files"]) { WorkingDirectory = RepositoryRoot.Path, RedirectStandardOutput = true };
        using var git = Process.Start(psi) ?? throw new InvalidOperationException("git is required for this test");
        var files = git.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        git.WaitForExit();
        Assert.Equal(0, git.ExitCode);
        Assert.NotEmpty(files);
        var runtime = files.Where(f => Path.GetFileName(f) is "erl_crash.dump" or "notifications-ledger.jsonl"
            || Path.GetFileName(f).StartsWith("MnesiaCore.", StringComparison.Ordinal)).ToList();
        Assert.True(runtime.Count == 0, "runtime files in git: " + string.Join(", ", runtime));
    }

    private static bool IsUnder(string path, string folder)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        return (path + Path.DirectorySeparatorChar).StartsWith(root, StringComparison.Ordinal);
    }
}

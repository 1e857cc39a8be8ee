namespace CanaryFlow.Controller.Tests.Infrastructure;

public static class RepositoryRoot
{
    /// <summary>The checkout's root (the folder with CanaryFlow.sln), found from the test binaries.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "CanaryFlow.sln"))) return dir.FullName;
        throw new InvalidOperationException("CanaryFlow.sln not found above " + AppContext.BaseDirectory);
    }
}

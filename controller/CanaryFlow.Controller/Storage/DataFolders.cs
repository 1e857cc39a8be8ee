namespace CanaryFlow.Controller.Storage;

/// <summary>
/// Where the controller writes at run time when no folder is configured: the user's state folder
/// ($XDG_STATE_HOME, else the local application-data folder, else the temp folder), under "canaryflow".
/// Never the current folder: a controller started from a checkout must not write into the source tree.
/// </summary>
public static class DataFolders
{
    public const string ProductFolder = "canaryflow";

    /// <summary>The default folder for one kind of runtime data, e.g. "state" or "notifications".</summary>
    public static string Default(string kind) => Path.Combine(Root(), kind);

    public static string Root()
    {
        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (!string.IsNullOrWhiteSpace(state) && Path.IsPathFullyQualified(state)) return Path.Combine(state, ProductFolder);
        var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (!string.IsNullOrEmpty(local) && Path.IsPathFullyQualified(local)) return Path.Combine(local, ProductFolder);
        return Path.Combine(Path.GetTempPath(), ProductFolder);
    }
}

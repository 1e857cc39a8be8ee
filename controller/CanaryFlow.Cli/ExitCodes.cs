namespace CanaryFlow.Cli;

/// <summary>Exit codes a script can branch on.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Unreachable = 4;
}

/// <summary>A failure with the exit code it maps to and a message for the user.</summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

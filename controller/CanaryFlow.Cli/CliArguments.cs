using CanaryFlow.Contracts;

namespace CanaryFlow.Cli;

/// <summary>One parsed command line (see <see cref="CliCommandLine"/>): the verb, its "ns/name" and options.</summary>
public sealed record CliArguments(
    string Verb,
    RolloutTarget? Target,
    Uri? Controller,
    Uri? RabbitMq,
    string? Reason,
    string Actor,
    bool Watch,
    TimeSpan Interval,
    TimeSpan AnswerTimeout)
{
    public static readonly string[] CommandVerbs = ["promote", "abort", "pause", "resume", "retry"];
}

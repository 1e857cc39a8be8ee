using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using CanaryFlow.Contracts;

namespace CanaryFlow.Cli;

/// <summary>
/// The <c>canaryflow</c> command line, declared with System.CommandLine: commands, arguments, options,
/// their environment defaults and checks. Every command's action receives one <see cref="CliArguments"/>.
/// </summary>
public sealed class CliCommandLine
{
    public const string ExitCodesText = "Exit codes: 0 ok, 2 usage, 3 rollout not found, 4 bus or controller unreachable.";

    private readonly Func<string, string?> _env;
    private readonly Option<Uri?> _controller;
    private readonly Option<Uri?> _rabbitMq;
    private readonly Option<string> _actor;
    private readonly Option<string?> _reason = new("--reason") { Description = "why (kept in the rollout's history)", HelpName = "TEXT" };
    private readonly Option<bool> _watch = new("--watch", "-w") { Description = "redraw until the rollout finishes" };
    private readonly Option<double> _interval;
    private readonly Option<double> _timeout;
    private readonly Argument<RolloutTarget> _target = new("NAMESPACE/NAME") { Description = "the rollout's target, e.g. shop/checkout", CustomParser = ParseTarget };

    public RootCommand Root { get; }

    public CliCommandLine(Func<string, string?> env, Func<CliArguments, CancellationToken, Task> run)
    {
        _env = env;
        _controller = UrlOption("--controller", "CANARYFLOW_CONTROLLER", "controller HTTP API", "http", "https");
        _rabbitMq = UrlOption("--rabbitmq", "CANARYFLOW_RABBITMQ", "amqp://user:pass@host:5672/vhost", "amqp", "amqps", "rabbitmq");
        _actor = new("--actor") { Description = "who asks", HelpName = "NAME", Recursive = true, DefaultValueFactory = _ => "cli:" + (env("USER") ?? Environment.UserName) };
        _interval = Seconds("--interval", "refresh period for --watch", 2, 0.2, 3600);
        _timeout = Seconds("--timeout", "how long to wait for the controller's answer on the bus", 10, 0.5, 300);

        Root = new RootCommand("Steers CanaryFlow rollouts.\n\n" + ExitCodesText) { _controller, _rabbitMq, _actor };
        var list = new Command("list", "rollouts known to the controller");
        list.SetAction((result, ct) => run(Read(result, "list"), ct));
        Root.Subcommands.Add(list);

        var status = new Command("status", "weight, latest analysis and step history") { _target, _watch, _interval };
        status.SetAction((result, ct) => run(Read(result, "status"), ct));
        Root.Subcommands.Add(status);

        foreach (var (verb, description) in new[]
                 {
                     ("promote", "finish now (or pass an approval gate)"), ("abort", "roll back now (needs --reason)"),
                     ("pause", "stay at the current weight"), ("resume", "continue"),
                     ("retry", "run a failed rollout again from the first step"),
                 })
        {
            var command = new Command(verb, description) { _target, _reason, _timeout };
            if (verb == "abort")
                command.Validators.Add(r =>
                {
                    if (string.IsNullOrWhiteSpace(r.GetValue(_reason))) r.AddError("'abort' needs --reason, so that the history says why.");
                });
            command.SetAction((result, ct) => run(Read(result, verb), ct));
            Root.Subcommands.Add(command);
        }
    }

    /// <summary>Response files ("@file") are off: a reason such as "@alice asked" is text, not a path.</summary>
    public ParseResult Parse(IReadOnlyList<string> args) =>
        Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });

    private CliArguments Read(ParseResult r, string verb) => new(
        verb,
        verb == "list" ? null : r.GetValue(_target),
        r.GetValue(_controller),
        r.GetValue(_rabbitMq),
        r.GetValue(_reason),
        r.GetValue(_actor)!,
        r.GetValue(_watch),
        TimeSpan.FromSeconds(r.GetValue(_interval)),
        TimeSpan.FromSeconds(r.GetValue(_timeout)));

    private static RolloutTarget ParseTarget(ArgumentResult r)
    {
        var text = r.Tokens.Single().Value;
        var target = RolloutTarget.TryParse(text);
        if (target is null) r.AddError($"'{text}' is not NAMESPACE/NAME.");
        return target!;
    }

    // A URL from the option or, when absent, from the environment variable; checked the same way.
    private Option<Uri?> UrlOption(string name, string variable, string description, params string[] schemes)
    {
        Uri? Parse(ArgumentResult r, string? text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme)) return uri;
            r.AddError($"{name} must be a URL with scheme {string.Join(" or ", schemes)}.");
            return null;
        }
        return new Option<Uri?>(name)
        {
            Description = $"{description} (env {variable})",
            HelpName = "URL",
            Recursive = true,
            CustomParser = r => Parse(r, r.Tokens.Single().Value),
            DefaultValueFactory = r => Parse(r, _env(variable)),
        };
    }

    private static Option<double> Seconds(string name, string description, double byDefault, double min, double max)
    {
        var option = new Option<double>(name)
        {
            Description = description,
            HelpName = "SECONDS",
            DefaultValueFactory = _ => byDefault,
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is var v && (v < min || v > max || double.IsNaN(v)))
                r.AddError($"{name} must be a number of seconds between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}.");
        });
        return option;
    }
}

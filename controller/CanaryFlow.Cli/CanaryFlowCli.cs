using System.CommandLine;
using CanaryFlow.Contracts;

namespace CanaryFlow.Cli;

/// <summary>The <c>canaryflow</c> tool, callable in-process (tests) as well as from <c>Main</c>.</summary>
public static class CanaryFlowCli
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<string, string?> env, CancellationToken cancellationToken)
    {
        var commandLine = new CliCommandLine(env, (a, ct) => RunAsync(a, output, ct));
        var parsed = commandLine.Parse(args is ["help"] ? ["--help"] : args);
        // Our own Ctrl+C handling (Program.cs) and exit codes: the library neither traps signals nor catches.
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        if (parsed.Errors.Count > 0)
        {
            // The library's parse-error action prints the errors and the command's help; all of it goes to stderr.
            await parsed.InvokeAsync(new InvocationConfiguration { Output = error, Error = error, ProcessTerminationTimeout = null }, cancellationToken);
            return ExitCodes.Usage;
        }
        try
        {
            var code = await parsed.InvokeAsync(invocation, cancellationToken);
            return code == 0 ? ExitCodes.Ok : code;
        }
        catch (CliException e)
        {
            await error.WriteLineAsync(e.Message);
            return e.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Ok; // Ctrl+C ends a --watch
        }
    }

    private static async Task RunAsync(CliArguments a, TextWriter output, CancellationToken cancellationToken)
    {
        switch (a.Verb)
        {
            case "list":
                using (var api = Api(a)) StatusRenderer.WriteList(output, await api.ListAsync(cancellationToken));
                break;
            case "status":
                using (var api = Api(a)) await StatusAsync(api, a, output, cancellationToken);
                break;
            default:
                await SendAsync(a, output, cancellationToken);
                break;
        }
    }

    private static ControllerApi Api(CliArguments a) =>
        new(a.Controller ?? throw Usage($"'{a.Verb}' needs --controller URL (or CANARYFLOW_CONTROLLER)."));

    private static CliException Usage(string message) => new(ExitCodes.Usage, message + "\nRun 'canaryflow --help' for the commands and options.");

    private static async Task StatusAsync(ControllerApi api, CliArguments a, TextWriter output, CancellationToken cancellationToken)
    {
        while (true)
        {
            var view = await api.GetAsync(a.Target!, cancellationToken);
            if (a.Watch && !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out)) output.Write("\u001b[H\u001b[2J"); // redraw in place
            StatusRenderer.WriteStatus(output, view);
            if (!a.Watch || StatusRenderer.IsFinished(view)) return;
            await Task.Delay(a.Interval, cancellationToken);
            output.WriteLine();
        }
    }

    private static async Task SendAsync(CliArguments a, TextWriter output, CancellationToken cancellationToken)
    {
        var rabbitMq = a.RabbitMq ?? throw Usage($"'{a.Verb}' needs --rabbitmq URI (or CANARYFLOW_RABBITMQ).");
        var target = a.Target!;
        var checkOnBus = true;
        if (a.Controller is not null)
        {
            // Refuse early, with exit code 3, rather than publish a command no saga will take.
            using var api = new ControllerApi(a.Controller);
            await api.GetAsync(target, cancellationToken);
            checkOnBus = false;
        }
        var reason = a.Reason ?? $"{a.Verb} from the command line";
        var id = RolloutIds.ForTarget(target);
        object message = a.Verb switch
        {
            "promote" => new PromoteRollout(id, target, a.Actor, reason),
            "abort" => new AbortRollout(id, target, a.Actor, reason),
            "pause" => new PauseRollout(id, target, a.Actor, reason),
            "resume" => new ResumeRollout(id, target, a.Actor, reason),
            _ => new RetryRollout(id, target, a.Actor, reason),
        };
        // Without --controller the same question goes over the bus to the leading controller.
        await CommandPublisher.PublishAsync(rabbitMq, message, checkOnBus ? target : null, a.AnswerTimeout, cancellationToken);
        await output.WriteLineAsync($"{message.GetType().Name} published for {target} as {a.Actor}: {reason}");
    }
}

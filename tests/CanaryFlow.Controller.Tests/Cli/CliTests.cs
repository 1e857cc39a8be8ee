using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Cli;
using CanaryFlow.Controller.Tests.ChatOps;

namespace CanaryFlow.Controller.Tests.Cli;

/// <summary>The CLI's reading side and its errors, against a local fake of the controller's status API.</summary>
public sealed class CliTests : IAsyncLifetime
{
    private LocalWebApp _controller = null!;

    public async Task InitializeAsync() => _controller = await FakeControllerApi.StartAsync();

    public async Task DisposeAsync() => await _controller.DisposeAsync();

    internal static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await CanaryFlowCli.RunAsync(args, output, error, _ => null, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Status_shows_weight_as_a_progress_bar_the_analysis_against_bounds_and_the_history()
    {
        var (code, output, _) = await RunAsync("status", "shop/checkout", "--controller", _controller.BaseAddress.ToString());
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("[#########.....................]  30%", output);
        Assert.Contains("10 20 [30] 50 100", output);
        Assert.Matches(@"request-success-rate\s+97\.5\s+min 99\s+fail", output);
        Assert.Contains("Initializing → Progressing  30%  Canary ready", output);
    }

    [Fact]
    public async Task Status_watch_redraws_until_the_rollout_finishes()
    {
        await using var controller = await FakeControllerApi.StartAsync(call => call < 2
            ? FakeControllerApi.View() with { CanaryWeight = 30 + 20 * call }
            : FakeControllerApi.View() with { Phase = "Succeeded", CanaryWeight = 0, DesiredWeight = 0 });
        var (code, output, _) = await RunAsync("status", "shop/checkout", "--watch", "--interval", "0.2", "--controller", controller.BaseAddress.ToString());
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(["Progressing", "Progressing", "Succeeded"],
            output.Split('\n').Where(l => l.StartsWith("shop/checkout", StringComparison.Ordinal)).Select(l => l.Split("  ")[1].Trim()));
        Assert.Contains(" 50%", output);
    }

    [Fact]
    public async Task List_prints_one_row_per_rollout()
    {
        var (code, output, _) = await RunAsync("list", "--controller", _controller.BaseAddress.ToString());
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Matches(@"(?m)^shop/checkout\s+Progressing\s+30%\s+3/5", output);
    }

    [Fact]
    public async Task Status_of_an_unknown_rollout_exits_3()
    {
        var (code, _, error) = await RunAsync("status", "shop/missing", "--controller", _controller.BaseAddress.ToString());
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Contains("No rollout for shop/missing", error);
    }

    [Fact]
    public async Task Commands_for_an_unknown_rollout_exit_3_before_touching_the_bus()
    {
        // The bus address is unreachable on purpose: exit code 3 proves the controller was asked first.
        var (code, _, _) = await RunAsync("promote", "shop/missing", "--controller", _controller.BaseAddress.ToString(),
            "--rabbitmq", $"amqp://guest:guest@127.0.0.1:{RabbitMqBroker.FreePort()}/");
        Assert.Equal(ExitCodes.NotFound, code);
    }

    [Fact]
    public async Task An_unreachable_controller_or_broker_exits_4_with_a_clear_message()
    {
        var deadPort = RabbitMqBroker.FreePort();
        var controller = await RunAsync("list", "--controller", $"http://127.0.0.1:{deadPort}/");
        var bus = await RunAsync("pause", "shop/checkout", "--rabbitmq", $"amqp://guest:secret-pw@127.0.0.1:{deadPort}/");
        Assert.Equal(ExitCodes.Unreachable, controller.Code);
        Assert.Contains("Cannot reach the controller", controller.Err);
        Assert.Equal(ExitCodes.Unreachable, bus.Code);
        Assert.Contains($"Cannot reach RabbitMQ at 127.0.0.1:{deadPort}", bus.Err);
        Assert.DoesNotContain("secret-pw", bus.Err);
    }

    [Fact]
    public async Task Help_prints_the_usage_and_succeeds()
    {
        var (code, output, _) = await RunAsync("--help");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("Exit codes: 0 ok, 2 usage, 3 rollout not found, 4 bus or controller unreachable.", output);
    }

    [Fact]
    public async Task Options_may_come_before_the_command_as_name_equals_value_or_from_the_environment()
    {
        var before = await RunAsync("--controller=" + _controller.BaseAddress, "status", "shop/checkout");
        var output = new StringWriter();
        var fromEnv = await CanaryFlowCli.RunAsync(["list"], output, new StringWriter(),
            name => name == "CANARYFLOW_CONTROLLER" ? _controller.BaseAddress.ToString() : null, CancellationToken.None);
        var badEnv = await CanaryFlowCli.RunAsync(["list"], new StringWriter(), new StringWriter(),
            name => name == "CANARYFLOW_CONTROLLER" ? "ftp://127.0.0.1/" : null, CancellationToken.None);
        Assert.Equal(ExitCodes.Ok, before.Code);
        Assert.Contains("shop/checkout  Progressing", before.Out);
        Assert.Equal(ExitCodes.Ok, fromEnv);
        Assert.Contains("shop/checkout", output.ToString());
        Assert.Equal(ExitCodes.Usage, badEnv);
    }

    [Theory]
    [InlineData()]
    [InlineData("deploy", "shop/checkout")]
    [InlineData("promote", "checkout", "--rabbitmq", "amqp://127.0.0.1/")]
    [InlineData("abort", "shop/checkout", "--rabbitmq", "amqp://127.0.0.1/")]
    [InlineData("promote", "shop/checkout")]
    [InlineData("status", "shop/checkout")]
    [InlineData("pause", "shop/checkout", "--rabbitmq", "http://127.0.0.1/")]
    [InlineData("resume", "shop/checkout", "--bogus", "1")]
    public async Task Bad_usage_exits_2_with_the_usage_text_or_what_is_missing(params string[] args)
    {
        var (code, _, error) = await RunAsync(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.NotEmpty(error);
    }
}

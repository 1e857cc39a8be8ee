using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// A controller never asks a person for anything: given a kubeconfig whose user has no credentials, the real
/// process stops at once with one line that says what is wrong, and a non-zero exit code.
/// </summary>
public sealed class KubeconfigWithoutCredentialsTests
{
    [Fact]
    public async Task A_user_without_credentials_stops_the_controller_with_one_clear_line_and_no_prompt()
    {
        await using var sandbox = await SandboxKubernetesServer.StartAsync();
        var folder = Directory.CreateTempSubdirectory("canaryflow-nocreds-").FullName;
        var kubeconfig = Path.Combine(folder, "kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: sandbox
              cluster:
                server: {sandbox.BaseAddress.ToString().TrimEnd('/')}
            users:
            - name: nobody
              user: {"{}"}
            contexts:
            - name: sandbox
              context:
                cluster: sandbox
                user: nobody
            current-context: sandbox
            """);

        await using var controller = ControllerProcess.Start(new Dictionary<string, string>
        {
            ["urls"] = $"http://127.0.0.1:{RabbitMqBroker.FreePort()}",
            ["Kubernetes:KubeconfigPath"] = kubeconfig,
            ["Kubernetes:Namespaces:0"] = "nocreds",
            ["Prometheus:Address"] = "http://127.0.0.1:9/",
            ["Rollouts:StateDirectory"] = Path.Combine(folder, "state"),
            ["Notifications:DataPath"] = Path.Combine(folder, "notifications"),
        });

        var exit = await controller.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var output = controller.Stdout + controller.Stderr;
        Assert.True(exit is not null, "the controller kept running with a kubeconfig user that has no credentials:\n" + output);
        Assert.NotEqual(0, exit);
        Assert.DoesNotContain("Please enter", output);
        Assert.DoesNotContain("   at ", output); // no stack trace
        var lines = controller.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.Contains("nobody", line); // names the kubeconfig user
        Assert.Contains("credentials", line);
        Assert.Contains(kubeconfig, line);
    }
}

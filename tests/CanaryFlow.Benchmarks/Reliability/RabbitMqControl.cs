using System.Diagnostics;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>Drives the private broker that .ci/reliability started, through the same shell functions
/// (.ci/services.sh: rabbitmqctl_in DIR stop_app|start_app).</summary>
public static class RabbitMqControl
{
    public static async Task RunAsync(string command)
    {
        var script = Environment.GetEnvironmentVariable("CANARYFLOW_SERVICES_SH")
                     ?? throw new InvalidOperationException("CANARYFLOW_SERVICES_SH is not set: run this scenario through .ci/reliability");
        var dir = Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_DIR") ?? throw new InvalidOperationException("CANARYFLOW_RABBITMQ_DIR is not set");
        var info = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"source \"{script}\"; rabbitmqctl_in \"{dir}\" -q {command}");
        using var process = Process.Start(info)!;
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"rabbitmqctl {command} failed: {await process.StandardError.ReadToEndAsync()}");
    }
}

using CanaryFlow.Sandbox.Simulation;
using CanaryFlow.Analysis;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Rollouts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>A whole controller host (engine, ticker, store) on the real RabbitMQ, in this process,
/// with the in-memory world as its cluster. Start, kill and start again like a pod.</summary>
public static class ControllerHost
{
    public static async Task<IHost> StartAsync(RabbitMqBroker broker, string virtualHost, string stateDirectory, InMemoryWorld world,
        TimeSpan? stallAfter = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Bus:Transport"] = "RabbitMq",
            ["Bus:RabbitMq:Host"] = "127.0.0.1",
            ["Bus:RabbitMq:Port"] = broker.Port.ToString(),
            ["Bus:RabbitMq:VirtualHost"] = virtualHost,
            ["Rollouts:StateDirectory"] = stateDirectory,
            ["Rollouts:TickPeriod"] = "00:00:00.050",
            ["Rollouts:StallAfter"] = (stallAfter ?? TimeSpan.FromSeconds(2)).ToString(),
        });
        builder.Services.AddSingleton(TestLogging.Shared);
        builder.Services.AddSingleton<ITrafficRouter>(world);
        builder.Services.AddSingleton<IWorkloadController>(world);
        builder.Services.AddSingleton<IAnalysisRunner>(world);
        builder.Services.AddCanaryFlowEngine(builder.Configuration);
        var host = builder.Build();
        // Bounded: the bus retries a broker it cannot reach forever, and a test must fail instead of waiting with it.
        using (var start = new CancellationTokenSource(TimeSpan.FromSeconds(60))) await host.StartAsync(start.Token);
        await host.Services.GetServices<IHostedService>().OfType<EngineSupervisor>().Single().Running.WaitAsync(TimeSpan.FromSeconds(60));
        return host;
    }

    /// <summary>
    /// Stops with almost no grace: the bus gets 200 ms, then in-flight work is cancelled and
    /// unacknowledged messages go back to the broker; nothing of this host keeps consuming.
    /// (A real SIGKILL of a separate process is in the reliability harness.)
    /// </summary>
    public static async Task KillAsync(IHost host)
    {
        var bus = host.Services.GetRequiredService<MassTransit.IBusControl>();
        using (var grace = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            try { await bus.StopAsync(grace.Token); } catch (OperationCanceledException) { }
        }
        try { await host.StopAsync(new CancellationToken(canceled: true)); } catch (OperationCanceledException) { }
        host.Dispose();
    }
}

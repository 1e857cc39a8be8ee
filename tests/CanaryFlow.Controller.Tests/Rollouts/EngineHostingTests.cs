using CanaryFlow.Analysis;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Sandbox.Simulation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CanaryFlow.Controller.Tests.Rollouts;

public sealed class EngineHostingTests
{
    [Fact]
    public async Task Only_the_supervisor_starts_the_bus_so_a_standby_replica_consumes_nothing()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var world = new InMemoryWorld();
        services.AddSingleton<ITrafficRouter>(world);
        services.AddSingleton<IWorkloadController>(world);
        services.AddSingleton<IAnalysisRunner>(world);
        services.AddSingleton<IHostApplicationLifetime, ApplicationLifetimeStub>();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rollouts:StateDirectory"] = Directory.CreateTempSubdirectory("canaryflow-hosting-").FullName,
        }).Build();
        services.AddCanaryFlowEngine(configuration);
        await using var provider = services.BuildServiceProvider();

        var hosted = provider.GetServices<IHostedService>().Select(h => h.GetType().Name).ToList();
        Assert.Contains(nameof(EngineSupervisor), hosted);
        Assert.DoesNotContain(hosted, name => name.Contains("MassTransit", StringComparison.Ordinal));
    }

    private sealed class ApplicationLifetimeStub : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() { }
    }
}

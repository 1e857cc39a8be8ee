namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>A fresh sandbox API server and controller services for every test.</summary>
public abstract class SandboxTest : IAsyncLifetime
{
    protected KubeTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await KubeTestHost.StartAsync();
    public async Task DisposeAsync() => await Host.DisposeAsync();
}

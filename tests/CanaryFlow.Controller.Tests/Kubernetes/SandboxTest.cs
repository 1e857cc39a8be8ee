namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>A fresh sandbox API server and controller services for every test.</summary>
public abstract class SandboxTest : IAsyncLifetime
{
    protected KubeTestHost Host { get; private set; } = null!;

    /// <summary>Configuration on top of the host's test defaults, for a test class that needs other values.</summary>
    protected virtual Dictionary<string, string?>? Settings => null;

    public async Task InitializeAsync() => Host = await KubeTestHost.StartAsync(Settings);
    public async Task DisposeAsync() => await Host.DisposeAsync();
}

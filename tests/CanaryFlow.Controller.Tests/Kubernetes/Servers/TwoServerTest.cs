namespace CanaryFlow.Controller.Tests.Kubernetes.Servers;

/// <summary>
/// A test class whose tests run on both API servers: derive an abstract contract class from this, then one sealed
/// class per server (<c>… OnSandbox</c>, and <c>… OnRealServer</c> with the <see cref="RealControlPlane.Category"/> trait).
/// A difference between the sandbox and the real kube-apiserver then shows up as a test that fails on one of them.
/// </summary>
public abstract class TwoServerTest(KubeServer server, Dictionary<string, string?>? settings = null) : IAsyncLifetime
{
    protected KubeServer Server { get; } = server;
    protected KubeTestHost Host { get; private set; } = null!;
    protected string Ns => Host.Namespace;

    public async Task InitializeAsync() => Host = await KubeTestHost.StartOnAsync(Server, settings);
    public async Task DisposeAsync() => await Host.DisposeAsync();
}

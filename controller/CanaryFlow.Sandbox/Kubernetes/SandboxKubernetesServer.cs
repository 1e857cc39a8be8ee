using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <param name="Port">0 picks a free port.</param>
/// <param name="ReadyDelay">How long the simulated Deployment controller takes to make a rollout available.</param>
/// <param name="BookmarkInterval">How often watches that allow bookmarks get one.</param>
/// <param name="Served">The resource kinds served (default: all of <see cref="ResourceKinds.All"/>); leave one out to be a
/// cluster without its CRD, which answers 404 for it.</param>
public sealed record SandboxKubernetesOptions(int Port = 0, TimeSpan? ReadyDelay = null, TimeSpan? BookmarkInterval = null, TimeProvider? Time = null,
    IReadOnlyCollection<ResourceKind>? Served = null);

/// <summary>
/// A Kubernetes API server for tests and the demo: Kestrel on 127.0.0.1 speaking the real REST protocol
/// (see <see cref="ApiEndpoints"/>), a simulated Deployment controller, fault injection, and a kubeconfig
/// file so that clients reach it exactly as they reach a cluster.
/// In process, drive it through <see cref="Store"/> (objects, <see cref="ObjectStore.Committed"/> changes,
/// compaction, dropped watches), <see cref="Faults"/> and <see cref="Deployments"/>. From another process:
/// <c>POST /sandbox/faults</c> {statusCode, remaining, method?, pathContains?, retryAfterSeconds?},
/// <c>POST /sandbox/watches/drop</c>, <c>POST /sandbox/compact</c>,
/// <c>POST /sandbox/deployments/{ns}/{name}/fail-ready?fail=true|false</c>, <c>GET /sandbox/kubeconfig?ns=</c>.
/// </summary>
public sealed class SandboxKubernetesServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SandboxKubernetesServer(WebApplication app, ObjectStore store, FaultInjector faults, DeploymentSimulator deployments, Uri address)
    {
        _app = app;
        Store = store;
        Faults = faults;
        Deployments = deployments;
        BaseAddress = address;
        KubeconfigPath = Path.Combine(Path.GetTempPath(), $"canaryflow-sandbox-{Guid.NewGuid():N}.kubeconfig");
        WriteKubeconfig(KubeconfigPath);
    }

    public ObjectStore Store { get; }
    public FaultInjector Faults { get; }
    public DeploymentSimulator Deployments { get; }
    public Uri BaseAddress { get; }

    /// <summary>A kubeconfig whose current context points at this server, namespace "default".</summary>
    public string KubeconfigPath { get; }

    public static async Task<SandboxKubernetesServer> StartAsync(SandboxKubernetesOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SandboxKubernetesOptions();
        Admission.LoadRules(); // a CRD rule the sandbox cannot apply stops it here, not silently later
        var time = options.Time ?? TimeProvider.System;
        var store = new ObjectStore(time);
        var faults = new FaultInjector();
        var deployments = new DeploymentSimulator(store, time, options.ReadyDelay ?? TimeSpan.FromMilliseconds(150));
        _ = new AutoscalerSimulator(store, time, options.ReadyDelay ?? TimeSpan.FromMilliseconds(150));
        var api = new ApiEndpoints(store, faults, time, options.BookmarkInterval ?? TimeSpan.FromSeconds(5), options.Served ?? ResourceKinds.All);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, options.Port));
        var app = builder.Build();
        MapSandboxControls(app, store, faults, deployments);
        app.Map("/{**path}", api.HandleAsync);
        await app.StartAsync(cancellationToken);

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SandboxKubernetesServer(app, store, faults, deployments, new Uri(address.Replace("[::]", "127.0.0.1")));
    }

    /// <summary>Test controls over HTTP, for callers in another process (the demo, the CLI).</summary>
    private static void MapSandboxControls(WebApplication app, ObjectStore store, FaultInjector faults, DeploymentSimulator deployments)
    {
        app.MapPost("/sandbox/faults", async (HttpRequest request) =>
        {
            var fault = await JsonSerializer.DeserializeAsync<Fault>(request.Body, JsonSerializerOptions.Web);
            if (fault is null || fault.StatusCode < 400 || fault.Remaining < 1) return Results.BadRequest("statusCode >= 400 and remaining >= 1 required");
            faults.Add(fault);
            return Results.NoContent();
        });
        app.MapGet("/sandbox/kubeconfig", (HttpRequest request, string? ns) =>
            Results.Text(Kubeconfig(new Uri($"{request.Scheme}://{request.Host}"), ns ?? "default"), "application/yaml"));
        app.MapPost("/sandbox/watches/drop", () => Results.Ok(new { dropped = store.DropWatches() }));
        app.MapPost("/sandbox/compact", () => { store.Compact(); return Results.NoContent(); });
        app.MapPost("/sandbox/deployments/{ns}/{name}/fail-ready", (string ns, string name, bool? fail) =>
        {
            deployments.FailReady(ns, name, fail ?? true);
            return Results.NoContent();
        });
    }

    public void WriteKubeconfig(string path, string ns = "default") => File.WriteAllText(path, Kubeconfig(BaseAddress, ns));

    /// <summary>A kubeconfig whose current context points at <paramref name="server"/> (also served at GET /sandbox/kubeconfig).</summary>
    public static string Kubeconfig(Uri server, string ns) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: sandbox
          cluster:
            server: {server.ToString().TrimEnd('/')}
        users:
        - name: sandbox
          user:
            token: sandbox-token
        contexts:
        - name: sandbox
          context:
            cluster: sandbox
            user: sandbox
            namespace: {ns}
        current-context: sandbox
        """;

    public async ValueTask DisposeAsync()
    {
        Store.DropWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try { File.Delete(KubeconfigPath); } catch (IOException) { }
    }
}

using CanaryFlow.Sandbox.Workloads;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Tests.ChatOps;

/// <summary>A real Kestrel server on 127.0.0.1 and a free port, for endpoint tests and fake receivers.</summary>
public sealed class LocalWebApp : IAsyncDisposable
{
    private LocalWebApp(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public IServiceProvider Services => App.Services;

    public static async Task<LocalWebApp> StartAsync(
        IDictionary<string, string?> configuration, Action<IServiceCollection, IConfiguration> services, Action<WebApplication> map)
    {
        var builder = LoopbackApp.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(configuration);
        services(builder.Services, builder.Configuration);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return new LocalWebApp(app, LoopbackApp.AddressOf(app));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

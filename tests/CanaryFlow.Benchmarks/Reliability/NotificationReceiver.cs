using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// A "webhook" notification channel on 127.0.0.1 that can be switched down (answers 500) and up again;
/// keeps the (target, phase) of every transition it accepted, to prove nothing was lost.
/// </summary>
public sealed class NotificationReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<(string Target, string Phase), int> _accepted = new();

    private NotificationReceiver(WebApplication app) => _app = app;

    public volatile bool Down;
    public long Refused;
    public Uri Url { get; private set; } = null!;

    public static async Task<NotificationReceiver> StartAsync()
    {
        var app = LoopbackApp.CreateBuilder().Build();
        var receiver = new NotificationReceiver(app);
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            if (receiver.Down) { Interlocked.Increment(ref receiver.Refused); return Results.StatusCode(500); }
            using var doc = await JsonDocument.ParseAsync(request.Body);
            if (Find(doc.RootElement) is { } t) receiver._accepted.AddOrUpdate(t, 1, (_, n) => n + 1);
            return Results.Ok();
        });
        await app.StartAsync();
        receiver.Url = new Uri(LoopbackApp.AddressOf(app), "hook");
        return receiver;
    }

    public bool Received(string target, string phase) => _accepted.ContainsKey((target, phase));

    /// <summary>The first object with a "phase" and a "target" {namespace, name}, wherever the payload nests it.</summary>
    private static (string, string)? Find(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            if (TryGet(e, "phase") is { ValueKind: JsonValueKind.String } phase && TryGet(e, "target") is { ValueKind: JsonValueKind.Object } target
                && TryGet(target, "name") is { ValueKind: JsonValueKind.String } name)
                return ($"{TryGet(target, "namespace")?.GetString()}/{name.GetString()}", phase.GetString()!);
            foreach (var p in e.EnumerateObject()) if (Find(p.Value) is { } found) return found;
        }
        else if (e.ValueKind == JsonValueKind.Array)
            foreach (var item in e.EnumerateArray()) if (Find(item) is { } found) return found;
        return null;
    }

    private static JsonElement? TryGet(JsonElement e, string name)
    {
        foreach (var p in e.EnumerateObject()) if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) return p.Value;
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

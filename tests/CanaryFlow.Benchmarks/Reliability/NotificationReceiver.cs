using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// A "webhook" notification channel on 127.0.0.1 that can be switched down (answers <see cref="DownStatus"/>,
/// and with <see cref="DropEvery"/> drops every n-th connection unanswered) and up again; keeps the
/// (target, phase) of every transition it accepted, and the X-CanaryFlow-Delivery ids in the order accepted,
/// to prove nothing was lost or sent twice.
/// </summary>
public sealed class NotificationReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<(string Target, string Phase), int> _accepted = new();
    private readonly ConcurrentQueue<string> _deliveries = new();
    private readonly ConcurrentDictionary<string, int> _refusedByDelivery = new();

    private NotificationReceiver(WebApplication app) => _app = app;

    public volatile bool Down;
    public int DownStatus = 500;
    public int DropEvery;
    public long Refused;

    /// <summary>Delivery ids of the signed webhook channels, in the order accepted (duplicates included).</summary>
    public IReadOnlyList<string> Deliveries => [.. _deliveries];

    /// <summary>Requests refused while down, by delivery id.</summary>
    public IReadOnlyDictionary<string, int> RefusedByDelivery => _refusedByDelivery;
    public Uri Url { get; private set; } = null!;

    public static async Task<NotificationReceiver> StartAsync()
    {
        var app = LoopbackApp.CreateBuilder().Build();
        var receiver = new NotificationReceiver(app);
        app.MapPost("/hook", async (HttpContext context) =>
        {
            var request = context.Request;
            var delivery = request.Headers["X-CanaryFlow-Delivery"].ToString();
            if (receiver.Down)
            {
                var n = Interlocked.Increment(ref receiver.Refused);
                if (delivery.Length > 0) receiver._refusedByDelivery.AddOrUpdate(delivery, 1, (_, c) => c + 1);
                if (receiver.DropEvery > 0 && n % receiver.DropEvery == 0) { context.Abort(); return Results.Empty; }
                return Results.StatusCode(receiver.DownStatus);
            }
            if (delivery.Length > 0) receiver._deliveries.Enqueue(delivery);
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

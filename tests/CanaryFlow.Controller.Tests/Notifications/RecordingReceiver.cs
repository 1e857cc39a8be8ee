using System.Collections.Concurrent;
using CanaryFlow.Controller.Tests.ChatOps;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Controller.Tests.Notifications;

/// <summary>
/// A webhook receiver on 127.0.0.1 that records every request per channel and answers as scripted
/// (default 200). A scripted answer may wait for a gate, to hold a channel "busy" on purpose.
/// </summary>
public sealed class RecordingReceiver : IAsyncDisposable
{
    public sealed record Received(string Channel, string Body, IReadOnlyDictionary<string, string> Headers, int Status);

    public sealed record Answer(int Status, string? RetryAfter = null, Task? Gate = null);

    private readonly ConcurrentDictionary<string, ConcurrentQueue<Answer>> _scripts = new();
    private readonly ConcurrentQueue<Received> _received = new();
    private LocalWebApp _app = null!;

    public Uri BaseAddress => _app.BaseAddress;

    public string UrlFor(string channel) => new Uri(BaseAddress, "hooks/" + channel).ToString();

    public IReadOnlyList<Received> For(string channel) => _received.Where(r => r.Channel == channel).ToList();

    public void Script(string channel, params Answer[] answers) => _scripts[channel] = new ConcurrentQueue<Answer>(answers);

    public static async Task<RecordingReceiver> StartAsync()
    {
        var receiver = new RecordingReceiver();
        receiver._app = await LocalWebApp.StartAsync(new Dictionary<string, string?>(), (_, _) => { },
            app => app.MapPost("/hooks/{channel}", (Delegate)receiver.HandleAsync));
        return receiver;
    }

    private async Task HandleAsync(HttpContext context, string channel)
    {
        var body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted);
        var answer = _scripts.TryGetValue(channel, out var script) && script.TryDequeue(out var next) ? next : new Answer(200);
        if (answer.Gate is not null) await answer.Gate.WaitAsync(context.RequestAborted);
        _received.Enqueue(new Received(channel, body, context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), answer.Status));
        context.Response.StatusCode = answer.Status;
        if (answer.RetryAfter is not null) context.Response.Headers.RetryAfter = answer.RetryAfter;
    }

    /// <summary>Waits (bounded) until the condition holds on what was received.</summary>
    public async Task WaitUntilAsync(Func<RecordingReceiver, bool> condition, string what)
    {
        for (var i = 0; i < 600 && !condition(this); i++) await Task.Delay(50);
        Assert.True(condition(this), "Timed out waiting until " + what);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

using System.Collections.Concurrent;
using CanaryFlow.Controller.Tests.ChatOps;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Controller.Tests.Notifications;

/// <summary>
/// A webhook receiver on 127.0.0.1 that records every request per channel and answers as scripted
/// (default 200). A scripted answer may wait for a gate, to hold a channel "busy" on purpose. A channel set
/// down answers 503 and drops every third connection unanswered (recorded with status 0), as a dead webhook
/// endpoint behind a load balancer does.
/// </summary>
public sealed class RecordingReceiver : IAsyncDisposable
{
    public sealed record Received(string Channel, string Body, IReadOnlyDictionary<string, string> Headers, int Status);

    public sealed record Answer(int Status, string? RetryAfter = null, Task? Gate = null);

    private readonly ConcurrentDictionary<string, ConcurrentQueue<Answer>> _scripts = new();
    private readonly ConcurrentQueue<Received> _received = new();
    private readonly ConcurrentDictionary<string, bool> _down = new();
    private readonly ConcurrentDictionary<string, int> _started = new();
    private int _refused;
    private LocalWebApp _app = null!;

    public Uri BaseAddress => _app.BaseAddress;

    public string UrlFor(string channel) => new Uri(BaseAddress, "hooks/" + channel).ToString();

    public IReadOnlyList<Received> For(string channel) => _received.Where(r => r.Channel == channel).ToList();

    public void Script(string channel, params Answer[] answers) => _scripts[channel] = new ConcurrentQueue<Answer>(answers);

    public void SetDown(string channel, bool down) => _down[channel] = down;

    /// <summary>Requests that reached the receiver, answered or not yet (a gated one is recorded only once it is answered).</summary>
    public int Started(string channel) => _started.GetValueOrDefault(channel);

    public static async Task<RecordingReceiver> StartAsync()
    {
        var receiver = new RecordingReceiver();
        receiver._app = await LocalWebApp.StartAsync(new Dictionary<string, string?>(), (_, _) => { },
            app => app.MapPost("/hooks/{channel}", (Delegate)receiver.HandleAsync));
        return receiver;
    }

    private async Task HandleAsync(HttpContext context, string channel)
    {
        _started.AddOrUpdate(channel, 1, (_, n) => n + 1);
        var body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        if (_down.TryGetValue(channel, out var down) && down)
        {
            var drop = Interlocked.Increment(ref _refused) % 3 == 0;
            _received.Enqueue(new Received(channel, body, headers, drop ? 0 : 503));
            if (drop) context.Abort();
            else context.Response.StatusCode = 503;
            return;
        }
        var answer = _scripts.TryGetValue(channel, out var script) && script.TryDequeue(out var next) ? next : new Answer(200);
        if (answer.Gate is not null) await answer.Gate.WaitAsync(context.RequestAborted);
        _received.Enqueue(new Received(channel, body, headers, answer.Status));
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

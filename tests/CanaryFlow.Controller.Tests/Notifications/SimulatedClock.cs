using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Notifications;

/// <summary>
/// A fake clock that notification delivery runs on, driven through hours of simulated time in steps. It does
/// not move while a notification request is on the wire (a fast network): otherwise a 10 s attempt timeout
/// could fire on a request the receiver answers in a millisecond, and a delivered message would be retried.
/// </summary>
public sealed class SimulatedClock
{
    public static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-11-25T15:00:00Z");

    private int _inFlight;

    public FakeTimeProvider Time { get; } = new(Start);

    public TimeSpan Elapsed => Time.GetUtcNow() - Start;

    /// <summary>Puts this clock and the in-flight counter into a host's notification services.</summary>
    public void Register(IServiceCollection services)
    {
        services.AddSingleton<TimeProvider>(Time);
        services.AddHttpClient(ChannelHttpSender.HttpClientName).AddHttpMessageHandler(() => new InFlight(this));
    }

    /// <summary>Advances one step once no request is on the wire, then lets what the step woke up start.</summary>
    public async Task StepAsync(TimeSpan step)
    {
        for (var i = 0; i < 2000 && Volatile.Read(ref _inFlight) > 0; i++) await Task.Delay(5);
        Time.Advance(step);
        await Task.Delay(2);
    }

    /// <summary>Steps until the elapsed time reaches <paramref name="until"/> or <paramref name="done"/> holds.</summary>
    public async Task RunUntilAsync(TimeSpan until, TimeSpan step, Func<bool>? done = null)
    {
        while (Elapsed < until && done?.Invoke() != true) await StepAsync(step);
    }

    private sealed class InFlight(SimulatedClock clock) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref clock._inFlight);
            try { return await base.SendAsync(request, cancellationToken); }
            finally { Interlocked.Decrement(ref clock._inFlight); }
        }
    }
}

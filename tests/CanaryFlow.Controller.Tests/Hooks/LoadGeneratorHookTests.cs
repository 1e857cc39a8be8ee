using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hooks;
using CanaryFlow.Controller.Tests.ChatOps;
using CanaryFlow.Controller.Tests.Rollouts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static CanaryFlow.Controller.Tests.Hooks.HookedEngine;

namespace CanaryFlow.Controller.Tests.Hooks;

/// <summary>The built-in load-generator hook against a real HTTP server on 127.0.0.1 that counts what reaches it.</summary>
public sealed class LoadGeneratorHookTests
{
    /// <summary>Counts GET /load and answers with <see cref="Status"/>.</summary>
    private sealed class CountingTarget : IAsyncDisposable
    {
        private LocalWebApp _app = null!;
        private int _requests;
        public volatile int Status = 200;
        public int Requests => Volatile.Read(ref _requests);
        public string Url => new Uri(_app.BaseAddress, "load").ToString();

        public static async Task<CountingTarget> StartAsync()
        {
            var t = new CountingTarget();
            t._app = await LocalWebApp.StartAsync(new Dictionary<string, string?>(), (_, _) => { },
                app => app.MapGet("/load", (HttpContext c) => { Interlocked.Increment(ref t._requests); c.Response.StatusCode = t.Status; }));
            return t;
        }

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }

    private static LoadGenerator Generator(int maxRate = 20, TimeSpan? maxDuration = null)
    {
        var services = new ServiceCollection().AddHttpClient().BuildServiceProvider();
        var options = Options.Create(new HookOptions { MaxLoadRequestsPerSecond = maxRate, MaxLoadDuration = maxDuration ?? TimeSpan.FromSeconds(1) });
        return new LoadGenerator(services.GetRequiredService<IHttpClientFactory>(), options, NullLogger<LoadGenerator>.Instance);
    }

    private static HookSpec LoadHook(string url, int rate, TimeSpan duration) =>
        new("load", HookTypes.Rollout, null, TimeSpan.FromSeconds(2), Load: new LoadSpec(url, rate, duration));

    private static HookCall Call() => new(Guid.NewGuid(), Guid.NewGuid(), Target, "v2", RolloutPhases.Progressing, 10, "d1");

    /// <summary>Waits for the load to stop, then for its last requests to be answered: counted, and no change for a
    /// second (bounded; a request is counted once answered, which on a busy machine can take a while).</summary>
    private static async Task<(long Sent, long Failed)> FinishedAsync(LoadGenerator generator)
    {
        await generator.Finished(Target, "load").WaitAsync(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 30; i++)
        {
            var counts = generator.Counts(Target, "load");
            await Task.Delay(1000);
            if (counts.Sent > 0 && generator.Counts(Target, "load") == counts) return counts;
        }
        return generator.Counts(Target, "load");
    }

    [Fact]
    public async Task The_load_sends_GET_requests_to_its_target_within_its_rate_and_duration_then_stops()
    {
        await using var target = await CountingTarget.StartAsync();
        using var generator = Generator();
        var result = generator.Start(LoadHook(target.Url, 10, TimeSpan.FromSeconds(1)), Call());
        Assert.Equal(HookOutcomes.Ok, result.Outcome);
        Assert.Contains("load of 10/s", result.Detail);

        var (sent, failed) = await FinishedAsync(generator);
        Assert.InRange(sent, 1, 11); // 10/s for 1 s: never more than one tick's worth over
        Assert.Equal((sent, 0L), (target.Requests, failed));
        await Task.Delay(300);
        Assert.Equal(sent, target.Requests); // stopped: nothing after its duration
    }

    [Fact]
    public async Task A_load_whose_loop_starts_after_its_end_still_sends_once()
    {
        await using var target = await CountingTarget.StartAsync();
        using var generator = Generator();
        generator.Start(LoadHook(target.Url, 10, TimeSpan.FromTicks(1)), Call()); // over before any thread can start it

        var (sent, failed) = await FinishedAsync(generator);
        Assert.Equal((1L, 0L, 1L), (sent, failed, (long)target.Requests));
    }

    [Fact]
    public async Task A_spec_asking_for_more_than_the_bounds_is_held_to_the_configured_maximum_rate_and_duration()
    {
        await using var target = await CountingTarget.StartAsync();
        using var generator = Generator(maxRate: 20, maxDuration: TimeSpan.FromSeconds(1));
        var result = generator.Start(LoadHook(target.Url, 100_000, TimeSpan.FromHours(5)), Call());
        Assert.Contains("load of 20/s", result.Detail);

        var (sent, _) = await FinishedAsync(generator);
        Assert.InRange(sent, 1, 21);
        Assert.Equal(sent, target.Requests);
    }

    [Fact]
    public async Task A_second_call_while_the_load_runs_extends_it_and_never_starts_a_second_one()
    {
        await using var target = await CountingTarget.StartAsync();
        using var generator = Generator();
        var hook = LoadHook(target.Url, 10, TimeSpan.FromSeconds(1));
        generator.Start(hook, Call());
        var loop = generator.Finished(Target, "load");
        generator.Start(hook, Call());
        Assert.Same(loop, generator.Finished(Target, "load"));

        var (sent, _) = await FinishedAsync(generator);
        Assert.InRange(sent, 1, 11 + 1); // one load, extended by the moment between the two calls
    }

    [Fact]
    public async Task Server_errors_and_an_unreachable_target_are_counted_as_failed_not_retried()
    {
        await using var target = await CountingTarget.StartAsync();
        target.Status = 503;
        using var generator = Generator();
        generator.Start(LoadHook(target.Url, 10, TimeSpan.FromMilliseconds(500)), Call());
        var (sent, failed) = await FinishedAsync(generator);
        Assert.True(sent >= 1);
        Assert.Equal((sent, sent), (failed, (long)target.Requests)); // one request per tick, no retries

        using var other = Generator();
        other.Start(LoadHook(Unreachable().Replace("/hook", "/load"), 10, TimeSpan.FromMilliseconds(500)), Call());
        var (sentNowhere, failedNowhere) = await FinishedAsync(other);
        Assert.True(sentNowhere >= 1);
        Assert.Equal(sentNowhere, failedNowhere);
    }

    [Fact]
    public async Task A_rollout_hook_with_a_load_drives_traffic_to_its_target_during_the_check_and_is_recorded_as_ok()
    {
        await using var target = await CountingTarget.StartAsync();
        await using var e = await StartAsync();
        await e.Request(Target, "v2", With(TestPlans.Steps(10, 100), LoadHook(target.Url, 10, TimeSpan.FromSeconds(1))));
        await e.At(10);
        await e.Tick();

        var s = await e.Until(Target, x => x.PassedChecks == 1, "the check with the load");
        Assert.Contains(s.LastEvidence!.Metrics, m => m.Name == "hook:load" && m.Outcome == "pass");
        Assert.True(await e.Harness.Published.Any<HookCompleted>(x => x.Context.Message.Name == "load" && x.Context.Message.Outcome == HookOutcomes.Ok));
        for (var i = 0; i < 100 && target.Requests == 0; i++) await Task.Delay(50);
        Assert.InRange(target.Requests, 1, 11);
    }
}

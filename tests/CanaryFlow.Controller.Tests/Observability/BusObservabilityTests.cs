using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using Prometheus;

namespace CanaryFlow.Controller.Tests.Observability;

/// <summary>The observability wiring on a real (test harness) bus: log scopes and consumer error counts.</summary>
public sealed class BusObservabilityTests
{
    private static readonly RolloutTarget Target = new("shop", "cart");

    /// <summary>Stands in for any worker: logs one line per message; throws for a rollout named "boom".</summary>
    public sealed class LoggingConsumer(ILogger<LoggingConsumer> log) : IConsumer<AnalysisPassed>, IConsumer<AbortRollout>
    {
        public Task Consume(ConsumeContext<AnalysisPassed> context)
        {
            log.LogInformation("check passed");
            return Task.CompletedTask;
        }

        public Task Consume(ConsumeContext<AbortRollout> context) =>
            context.Message.Reason == "boom" ? throw new InvalidOperationException("worker failed") : Task.CompletedTask;
    }

    /// <summary>Keeps each logged line with the scope values active when it was logged.</summary>
    private sealed class CapturingLogger : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();
        public readonly ConcurrentQueue<(string Category, string Message, Dictionary<string, object?> Scope)> Lines = new();

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;
        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
        public void Dispose() { }

        private sealed class Logger(CapturingLogger owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);
            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var scope = new Dictionary<string, object?>();
                owner._scopes.ForEachScope((s, acc) =>
                {
                    if (s is IEnumerable<KeyValuePair<string, object?>> pairs)
                        foreach (var (k, v) in pairs) acc[k] = v;
                }, scope);
                owner.Lines.Enqueue((category, formatter(state, exception), scope));
            }
        }
    }

    private static async Task<(ServiceProvider, ITestHarness, CanaryFlowMetrics)> StartAsync(CapturingLogger capture)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(capture).SetMinimumLevel(LogLevel.Information);
        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        builder.Services.AddSingleton(metrics);
        builder.AddCanaryFlowObservability();
        builder.Services.AddMassTransitTestHarness(x =>
        {
            x.AddCanaryFlowObservabilityConsumers();
            x.AddConsumer<LoggingConsumer>();
        });
        var provider = builder.Services.BuildServiceProvider();
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        return (provider, harness, metrics);
    }

    [Fact]
    public async Task A_line_logged_while_handling_a_message_carries_the_rollout_id()
    {
        var capture = new CapturingLogger();
        var (provider, harness, _) = await StartAsync(capture);
        await using var _p = provider;
        var passed = new AnalysisPassed(RolloutIds.ForTarget(Target), RolloutIds.ForRevision(Target, "v2"), 4, new AnalysisEvidence("ok", []), DateTimeOffset.UnixEpoch);
        await harness.Bus.Publish(passed);
        Assert.True(await harness.Consumed.Any<AnalysisPassed>());

        for (var i = 0; i < 500 && !capture.Lines.Any(l => l.Message == "check passed"); i++) await Task.Delay(10);
        var line = capture.Lines.First(l => l.Message == "check passed");
        Assert.Equal(passed.RolloutId, line.Scope["RolloutId"]);
        Assert.Equal(passed.CorrelationId, line.Scope["CorrelationId"]);
        Assert.Equal(nameof(AnalysisPassed), line.Scope["MessageType"]);
        await harness.Stop();
    }

    [Fact]
    public async Task A_consumer_that_throws_is_counted_by_message_type()
    {
        var (provider, harness, metrics) = await StartAsync(new CapturingLogger());
        await using var _p = provider;
        await harness.Bus.Publish(new AbortRollout(RolloutIds.ForTarget(Target), Target, "test", "boom"));
        await harness.Bus.Publish(new AbortRollout(RolloutIds.ForTarget(Target), Target, "test", "fine"));
        Assert.True(await harness.Published.Any<Fault<AbortRollout>>());

        var errors = metrics.ConsumerErrors.WithLabels(nameof(AbortRollout));
        for (var i = 0; i < 500 && errors.Value < 1; i++) await Task.Delay(10);
        Assert.Equal(1, errors.Value);
        await harness.Stop();
    }

    [Fact]
    public void Bus_traces_are_exported_only_when_an_otlp_endpoint_is_configured()
    {
        var off = Host.CreateApplicationBuilder();
        off.AddCanaryFlowObservability();
        using (var provider = off.Services.BuildServiceProvider())
            Assert.Null(provider.GetService<TracerProvider>());

        var on = Host.CreateApplicationBuilder();
        on.Configuration["Observability:OtlpEndpoint"] = "http://127.0.0.1:4317";
        on.AddCanaryFlowObservability();
        using (var provider = on.Services.BuildServiceProvider())
            Assert.NotNull(provider.GetService<TracerProvider>());
    }
}

using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Tests.Infrastructure;

public static class TestLogging
{
    /// <summary>
    /// MassTransit keeps a process-wide log context from the first bus it builds: hosts started one after
    /// another in one test process must share a logger factory that outlives them.
    /// </summary>
    public static readonly ILoggerFactory Shared = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning));
}

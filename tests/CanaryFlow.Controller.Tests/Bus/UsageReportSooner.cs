using CanaryFlow.Controller.Tests.Bus;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

[assembly: HostingStartup(typeof(UsageReportSooner))]

namespace CanaryFlow.Controller.Tests.Bus;

/// <summary>
/// Loaded into a controller process only by <see cref="OutboundConnectionTests"/> (through
/// ASPNETCORE_HOSTINGSTARTUPASSEMBLIES): MassTransit sends its usage report 5 minutes after the bus starts;
/// this brings it to its 30 s minimum so that a test of reasonable length sees it when the product leaves it on.
/// It changes only the delay: whether the report is enabled stays the product's decision.
/// </summary>
public sealed class UsageReportSooner : IHostingStartup
{
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(30);

    public void Configure(IWebHostBuilder builder) =>
        builder.ConfigureServices(services => services.PostConfigure<UsageTelemetryOptions>(o => o.ReportDelay = Delay));
}

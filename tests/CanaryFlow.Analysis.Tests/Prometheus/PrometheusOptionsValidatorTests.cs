using CanaryFlow.Analysis.Prometheus;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Analysis.Tests.Prometheus;

public class PrometheusOptionsValidatorTests
{
    private static ServiceProvider Provider(Dictionary<string, string?> settings) =>
        new ServiceCollection()
            .AddCanaryFlowAnalysis(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .BuildServiceProvider();

    [Fact]
    public void A_valid_section_binds_and_resolves_the_runner()
    {
        using var sp = Provider(new()
        {
            ["Prometheus:Address"] = "http://127.0.0.1:9090",
            ["Prometheus:BearerToken"] = "t",
            ["Prometheus:Headers:X-Scope-OrgID"] = "tenant-a",
            ["Prometheus:AttemptTimeout"] = "00:00:02",
        });
        var options = sp.GetRequiredService<IOptions<PrometheusOptions>>().Value;
        Assert.Equal("tenant-a", options.Headers["X-Scope-OrgID"]);
        Assert.Equal(TimeSpan.FromSeconds(2), options.AttemptTimeout);
        Assert.IsType<PrometheusAnalysisRunner>(sp.GetRequiredService<IAnalysisRunner>());
    }

    [Theory]
    [InlineData("Address", "not a url", "Address must be an absolute http(s) URL")]
    [InlineData("MaxRetries", "50", "MaxRetries must be 0..10")]
    [InlineData("Password", "secret", "Username is required")]
    [InlineData("AttemptTimeout", "00:05:00", "QueryTimeout must be at least AttemptTimeout")]
    public void Bad_settings_fail_with_a_message_naming_them(string key, string value, string message)
    {
        var settings = new Dictionary<string, string?> { ["Prometheus:Address"] = "http://127.0.0.1:9090", [$"Prometheus:{key}"] = value };
        using var sp = Provider(settings);
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<PrometheusOptions>>().Value);
        Assert.Contains(message, e.Message);
    }
}

using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Triggers;
using CanaryFlow.Controller.Web;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.ChatOps;

/// <summary>Misconfiguration is reported at start-up with the setting's name, never as a crash later.</summary>
public sealed class OptionsValidationTests
{
    private static string? Failure<T>(Dictionary<string, string?> settings, Action<IServiceCollection, IConfiguration> register) where T : class
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        register(services, configuration);
        using var provider = services.BuildServiceProvider();
        try
        {
            _ = provider.GetRequiredService<IOptions<T>>().Value;
            return null;
        }
        catch (OptionsValidationException e)
        {
            return e.Message;
        }
    }

    [Fact]
    public void A_short_registry_secret_is_refused_with_its_setting_name()
    {
        var error = Failure<RegistryWebhookOptions>(new() { ["Triggers:GitHub:Secret"] = "short" }, (s, c) => s.AddCanaryFlowTriggers(c));
        Assert.Contains("Triggers:GitHub:Secret", error);
    }

    [Fact]
    public void Registry_options_with_sound_secrets_are_accepted()
    {
        Assert.Null(Failure<RegistryWebhookOptions>(new() { ["Triggers:Harbor:Secret"] = "a-long-enough-secret-value" }, (s, c) => s.AddCanaryFlowTriggers(c)));
    }

    [Theory]
    [InlineData("Notifications:Channels:ops:Kind", "pager", "Kind must be one of")]
    [InlineData("Notifications:Channels:ops:Url", "not a url", "Url must be an http(s) URL")]
    [InlineData("Notifications:Defaults:0", "missing", "names channel 'missing'")]
    [InlineData("Notifications:Channels:ops:Secret", "short", "Secret must have at least 16")]
    [InlineData("Notifications:MaxAttempts", "50", "MaxAttempts must be 1..10")]
    [InlineData("Notifications:MaxAge", "00:00:00", "MaxAge must be positive")]
    [InlineData("Notifications:MaxRedeliveryDelay", "00:00:10", "MaxRedeliveryDelay at least RedeliveryDelay")]
    [InlineData("Notifications:BreakDuration", "-00:00:01", "BreakDuration must be positive")]
    public void Bad_notification_settings_are_refused_with_their_names(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Notifications:Channels:ops:Kind"] = "webhook",
            ["Notifications:Channels:ops:Url"] = "https://hooks.example.com/x",
            ["Notifications:Channels:ops:Secret"] = "a-long-enough-secret-value",
            [key] = value,
        };
        Assert.Contains(expected, Failure<NotificationOptions>(settings, (s, c) => s.AddCanaryFlowNotifications(c)));
    }

    [Fact]
    public void A_truncated_slack_signing_secret_is_refused()
    {
        Assert.Contains("Slack:SigningSecret", Failure<SlackOptions>(new() { ["Slack:SigningSecret"] = "abc" }, (s, c) => s.AddCanaryFlowSlack(c)));
    }
}

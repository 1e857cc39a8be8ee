using CanaryFlow.Controller.Tests.ChatOps;

namespace CanaryFlow.Controller.Tests.Notifications;

public sealed class SecretHandlingTests
{
    [Fact]
    public async Task A_failing_channel_is_logged_by_name_without_its_url_token_or_signing_secret()
    {
        var dataPath = Directory.CreateTempSubdirectory("canaryflow-secrets-").FullName;
        var logs = new CapturingLoggerProvider();
        await using var receiver = await RecordingReceiver.StartAsync();
        // Like a Slack or Discord webhook URL, the credential is part of the path.
        const string pathToken = "T0KEN-B1234-xyz";
        receiver.Script(pathToken, Enumerable.Repeat(new RecordingReceiver.Answer(500), 10).ToArray());
        var url = receiver.UrlFor(pathToken);
        try
        {
            await using (var host = await NotificationHost.StartAsync(dataPath, new Dictionary<string, (string, string)> { ["ops-hook"] = ("webhook", url) }, logs: logs))
            {
                var transition = NotificationHost.Transition(1);
                await host.PublishAndConsumeAsync(transition);
                // A 500 is transient: after a failed round the message waits for the next one, and that is logged.
                await receiver.WaitUntilAsync(_ => logs.All.Contains("next round in"), "a failed round was logged");
            }
            Assert.Contains("ops-hook", logs.All);
            Assert.DoesNotContain("T0KEN", logs.All);
            Assert.DoesNotContain(NotificationHost.WebhookSecret, logs.All);
        }
        finally
        {
            Directory.Delete(dataPath, recursive: true);
        }
    }
}

using System.Net.Http.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace CanaryFlow.Controller.Web;

/// <summary>
/// Slack shows nothing from the HTTP answer to a button click: the reply goes to the payload's
/// response_url. Only URLs under <see cref="SlackOptions.ResponseUrlPrefix"/> are called, so a payload
/// cannot make the controller call anything else. Sent in the background through Polly.
/// </summary>
public sealed class SlackResponder(IHttpClientFactory clients, IOptions<SlackOptions> options, IHostApplicationLifetime lifetime,
    TimeProvider time, ILogger<SlackResponder> logger)
{
    public const string HttpClientName = "canaryflow-slack";

    private readonly ResiliencePipeline _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>().Handle<Polly.Timeout.TimeoutRejectedException>(),
            MaxRetryAttempts = 2,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(500),
        })
        .AddTimeout(TimeSpan.FromSeconds(5))
        .Build();

    public bool IsAllowed(string? responseUrl) =>
        responseUrl is not null && Uri.TryCreate(responseUrl, UriKind.Absolute, out var uri)
        && uri.ToString().StartsWith(options.Value.ResponseUrlPrefix, StringComparison.Ordinal);

    /// <summary>Starts the reply and returns at once; a failure is logged (without the URL, which is a credential).</summary>
    public Task ReplyInBackground(string responseUrl, object reply) => Task.Run(async () =>
    {
        try
        {
            await _pipeline.ExecuteAsync(async token =>
            {
                using var response = await clients.CreateClient(HttpClientName).PostAsJsonAsync(responseUrl, reply, token);
                response.EnsureSuccessStatusCode();
            }, lifetime.ApplicationStopping);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Could not post the reply to Slack's response_url: {Error}", e.GetType().Name);
        }
    });
}

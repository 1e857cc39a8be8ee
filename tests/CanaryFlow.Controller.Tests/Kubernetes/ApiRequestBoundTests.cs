using System.Collections.Concurrent;
using System.Net;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Leadership;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>Kubernetes:MaxConcurrentRequests bounds the API requests in flight; watches, Lease calls and the wait for a
/// turn are not held against it.</summary>
public sealed class ApiRequestBoundTests
{
    [Fact]
    public async Task No_more_requests_than_the_bound_are_in_flight_and_the_rest_are_sent_as_turns_free_up()
    {
        var server = new HeldServer();
        using var client = Client(server, maxConcurrent: 2);

        var requests = GetPods(client, 6);
        await server.WaitForInFlightAsync(2);
        await Task.Delay(200); // time for a third to slip through, were there no bound
        Assert.Equal(2, server.InFlight);

        server.ReleaseAll();
        var answers = await Task.WhenAll(requests);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(6, server.Received.Count);
        Assert.Equal(2, server.MaxInFlight);
    }

    [Fact]
    public async Task A_watch_and_a_Lease_renewal_are_sent_while_every_turn_is_taken()
    {
        var server = new HeldServer();
        using var client = Client(server, maxConcurrent: 1);

        var held = client.GetAsync("http://127.0.0.1/api/v1/namespaces/n/pods/p0");
        await server.WaitForInFlightAsync(1);
        var waiting = client.GetAsync("http://127.0.0.1/api/v1/namespaces/n/pods/p1");
        var watch = client.GetAsync("http://127.0.0.1/apis/apps/v1/namespaces/n/deployments?watch=true");
        var renewal = client.PutAsync("http://127.0.0.1/apis/coordination.k8s.io/v1/namespaces/n/leases/canaryflow-leader", new StringContent("{}"));

        // The watch and the renewal reached the server beside the request holding the one turn; the other request waits.
        await server.WaitForInFlightAsync(3);
        Assert.Contains(server.Received, r => r.Contains("watch=true"));
        Assert.Contains(server.Received, r => r.EndsWith("/leases/canaryflow-leader"));
        Assert.DoesNotContain(server.Received, r => r.EndsWith("/pods/p1"));
        server.ReleaseAll();
        await Task.WhenAll(held, waiting, watch, renewal);
        Assert.Contains(server.Received, r => r.EndsWith("/pods/p1"));
    }

    [Fact]
    public async Task A_request_waiting_for_its_turn_longer_than_the_request_timeout_is_not_timed_out()
    {
        // Each answer takes 150 ms of a 400 ms timeout; one turn, so the fifth request waits ~600 ms for its turn.
        var server = new HeldServer(answerAfter: TimeSpan.FromMilliseconds(150));
        server.ReleaseAll();
        using var client = Client(server, maxConcurrent: 1, requestTimeout: TimeSpan.FromMilliseconds(400));

        var answers = await Task.WhenAll(GetPods(client, 5));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(5, server.Received.Count); // one attempt each: no attempt timed out, none retried
        Assert.Equal(1, server.MaxInFlight);
    }

    [Fact]
    public async Task A_bound_of_zero_sends_every_request_at_once()
    {
        var server = new HeldServer();
        using var client = Client(server, maxConcurrent: 0);

        var requests = GetPods(client, 40);
        await server.WaitForInFlightAsync(40);
        server.ReleaseAll();
        await Task.WhenAll(requests);
    }

    /// <summary>Reads of pods p0..p{count-1}, all started at once.</summary>
    private static List<Task<HttpResponseMessage>> GetPods(HttpClient client, int count) =>
        Enumerable.Range(0, count).Select(i => client.GetAsync($"http://127.0.0.1/api/v1/namespaces/n/pods/p{i}")).ToList();

    private static HttpClient Client(HeldServer server, int maxConcurrent, TimeSpan? requestTimeout = null)
    {
        var options = Options.Create(new KubernetesOptions
        {
            MaxConcurrentRequests = maxConcurrent, RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(10),
            RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        });
        return new HttpClient(new ResilienceHandler(options, TimeProvider.System, new WriteFence(open: true)) { InnerHandler = server })
            { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Answers 200 to each request once released (any request after the release at once, or after
    /// <paramref name="answerAfter"/>), counting how many are in flight at the same time.</summary>
    private sealed class HeldServer(TimeSpan? answerAfter = null) : HttpMessageHandler
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight;
        private int _maxInFlight;

        public ConcurrentQueue<string> Received { get; } = new();
        public int InFlight => Volatile.Read(ref _inFlight);
        public int MaxInFlight => Volatile.Read(ref _maxInFlight);

        public void ReleaseAll() => _release.TrySetResult();

        public async Task WaitForInFlightAsync(int count)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            while (InFlight < count) await Task.Delay(10, timeout.Token);
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Received.Enqueue(request.RequestUri!.PathAndQuery);
            var now = Interlocked.Increment(ref _inFlight);
            int max;
            while (now > (max = MaxInFlight) && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max) { }
            try
            {
                await _release.Task.WaitAsync(cancellationToken);
                if (answerAfter is { } after) await Task.Delay(after, cancellationToken);
                return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}") };
            }
            finally { Interlocked.Decrement(ref _inFlight); }
        }
    }
}

using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Hosting.Sharding;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>A client handler that counts the requests listing Canaries (GET of the collection), and records the target
/// and partition label of every Canary those lists sent, with the list's label selector, passing every request on.</summary>
public sealed class CanaryListCounter : DelegatingHandler
{
    private int _lists, _unselected;
    public int CanaryLists => _lists;

    /// <summary>The list requests without a label selector (every Canary of the namespace).</summary>
    public int UnselectedLists => _unselected;

    /// <summary>Each Canary a list sent: its target's name, its partition label (null: none) and the list's label selector
    /// (null: none).</summary>
    public ConcurrentQueue<(string Target, string? Label, string? Selector)> Sent { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var list = request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.EndsWith("/canaries", StringComparison.Ordinal)
                   && !request.RequestUri.Query.Contains("watch=true", StringComparison.Ordinal); // a watch's stream never ends
        var selector = list ? System.Web.HttpUtility.ParseQueryString(request.RequestUri!.Query)["labelSelector"] : null;
        if (list) Interlocked.Increment(ref _lists);
        if (list && selector is null) Interlocked.Increment(ref _unselected);
        var response = await base.SendAsync(request, cancellationToken);
        if (list && response.IsSuccessStatusCode)
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken); // read here and again by the client
            var page = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            foreach (var item in page?["items"]?.AsArray() ?? [])
                Sent.Enqueue(((string?)item?["spec"]?["targetRef"]?["name"] ?? "", (string?)item?["metadata"]?["labels"]?[PartitionLabel.Key], selector));
        }
        return response;
    }
}

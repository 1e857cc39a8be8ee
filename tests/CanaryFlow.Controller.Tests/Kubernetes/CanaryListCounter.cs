namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>A client handler that counts the requests listing Canaries (GET of the collection), passing every request on.</summary>
public sealed class CanaryListCounter : DelegatingHandler
{
    private int _lists;
    public int CanaryLists => _lists;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.EndsWith("/canaries", StringComparison.Ordinal))
            Interlocked.Increment(ref _lists);
        return base.SendAsync(request, cancellationToken);
    }
}

using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Hosting.Sharding;

namespace CanaryFlow.Testing;

/// <summary>A client handler that counts the requests listing Canaries (GET of the collection, not a watch) and the bytes
/// of their answers, passing every request on. With <paramref name="recordItems"/> it also records each Canary those lists
/// sent (tests); without, the answers are only counted as the client reads them, so a measurement of what a list
/// allocates is not also measuring a copy of it (benchmarks).</summary>
public sealed class CanaryListCounter(bool recordItems = true) : DelegatingHandler
{
    private int _lists, _unselected;
    private long _bytes;
    public int CanaryLists => _lists;

    /// <summary>The list requests without a label selector (every Canary of the namespace).</summary>
    public int UnselectedLists => _unselected;

    /// <summary>The bytes of the list answers read so far.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Each Canary a list sent: its target's name, its partition label (null: none) and the list's label selector
    /// (null: none). Empty unless items are recorded.</summary>
    public ConcurrentQueue<(string Target, string? Label, string? Selector)> Sent { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var list = request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.EndsWith("/canaries", StringComparison.Ordinal)
                   && !request.RequestUri.Query.Contains("watch=true", StringComparison.Ordinal); // a watch's stream never ends
        var response = await base.SendAsync(request, cancellationToken);
        if (!list) return response;
        var selector = System.Web.HttpUtility.ParseQueryString(request.RequestUri!.Query)["labelSelector"];
        Interlocked.Increment(ref _lists);
        if (selector is null) Interlocked.Increment(ref _unselected);
        if (!response.IsSuccessStatusCode) return response;
        if (!recordItems)
        {
            response.Content = Counted(response.Content, await response.Content.ReadAsStreamAsync(cancellationToken));
            return response;
        }
        await response.Content.LoadIntoBufferAsync(cancellationToken); // read here and again by the client
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Interlocked.Add(ref _bytes, System.Text.Encoding.UTF8.GetByteCount(body));
        foreach (var item in JsonNode.Parse(body)?["items"]?.AsArray() ?? [])
            Sent.Enqueue(((string?)item?["spec"]?["targetRef"]?["name"] ?? "", (string?)item?["metadata"]?["labels"]?[PartitionLabel.Key], selector));
        return response;
    }

    /// <summary>The same answer, its bytes counted as the client reads them.</summary>
    private StreamContent Counted(HttpContent original, Stream body)
    {
        var counted = new StreamContent(new CountingStream(body, n => Interlocked.Add(ref _bytes, n)));
        foreach (var (name, values) in original.Headers) counted.Headers.TryAddWithoutValidation(name, values);
        return counted;
    }

    private sealed class CountingStream(Stream inner, Action<int> read) : Stream
    {
        public override int Read(byte[] buffer, int offset, int count) { var n = inner.Read(buffer, offset, count); read(n); return n; }
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken);
            read(n);
            return n;
        }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
    }
}

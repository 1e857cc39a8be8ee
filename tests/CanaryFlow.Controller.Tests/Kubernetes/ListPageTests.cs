using System.Diagnostics.Tracing;
using System.Text;
using System.Text.Json;
using CanaryFlow.Controller.Kubernetes.Status;
using k8s;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// A list page as the client reads it (<see cref="KubernetesJson"/>, the serializer options its list calls use): each
/// item its own small document, the page never whole on the large object heap (issue 15, docs/benchmarks.md "The large
/// object heap's sources").
/// </summary>
public sealed class ListPageTests
{
    /// <summary>A page of <paramref name="count"/> Canary-sized objects (~3 KB each, as a Canary with its status is).</summary>
    private static byte[] Page(int count, string? next)
    {
        var json = new StringBuilder("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"4711\"");
        json.Append(next is null ? "" : $",\"continue\":\"{next}\"").Append("},\"items\":[");
        for (var i = 0; i < count; i++)
            json.Append(i == 0 ? "" : ",")
                .Append($$$"""{"metadata":{"name":"c-{{{i}}}","resourceVersion":"{{{i + 1}}}"},"spec":{"targetRef":{"name":"svc-{{{i}}}"}},"status":{"state":"{{{new string('x', 3000)}}}"}}""");
        return Encoding.UTF8.GetBytes(json.Append("]}").ToString());
    }

    [Fact]
    public void A_page_gives_every_item_its_continue_token_and_resource_version()
    {
        var page = KubernetesJson.Deserialize<CanaryStateListing.ListPage>(new MemoryStream(Page(600, "next-page")));

        Assert.Equal("next-page", page.Metadata?.ContinueProperty);
        Assert.Equal("4711", page.Metadata?.ResourceVersion);
        Assert.Equal(600, page.Items.Count);
        Assert.Equal("svc-599", CanaryStateListing.TargetName(page.Items[599]));
        Assert.Equal("c-0", CanaryStateListing.Name(page.Items[0]));
        Assert.Null(KubernetesJson.Deserialize<CanaryStateListing.ListPage>(new MemoryStream(Page(1, null))).Metadata?.ContinueProperty);
    }

    [Fact]
    public async Task Reading_a_two_megabyte_page_puts_nothing_on_the_large_object_heap_where_reading_it_whole_does()
    {
        if (!OperatingSystem.IsLinux()) return; // the thread's OS id comes from /proc
        var body = Page(600, null); // ~1.9 MB
        using var ticks = new LargeObjectTicks();

        // Each read on a thread of its own, one after the other; the second is what the untyped list call did: the page as
        // one JsonElement (read buffer, copy and token table, each about page-sized).
        var (typedThread, page) = OnOwnThread(() => KubernetesJson.Deserialize<CanaryStateListing.ListPage>(new MemoryStream(body)));
        var (wholeThread, whole) = OnOwnThread(() => KubernetesJson.Deserialize<JsonElement>(new MemoryStream(body)));

        // The second read's ticks arriving shows the listener got this far: the runtime delivers its events in time order.
        for (var i = 0; i < 300 && ticks.On(wholeThread) == 0; i++) await Task.Delay(100); // bounded wait for its event dispatch
        Assert.Equal(600, page.Items.Count);
        Assert.Equal(600, whole.GetProperty("items").GetArrayLength());
        Assert.NotEqual(0, ticks.On(wholeThread));
        Assert.Equal(0, ticks.On(typedThread));
    }

    private static (ulong OsThread, T Result) OnOwnThread<T>(Func<T> read)
    {
        (ulong, T) result = default;
        var thread = new Thread(() => result = (ulong.Parse(Path.GetFileName(new DirectoryInfo("/proc/thread-self").ResolveLinkTarget(true)!.FullName)), read()));
        thread.Start();
        thread.Join();
        return result;
    }

    /// <summary>The runtime's sampled allocation events (one at least per 100 KB) for the large object heap, by OS thread.</summary>
    private sealed class LargeObjectTicks : EventListener
    {
        private readonly List<ulong> _ticks = [];

        public int On(ulong thread)
        {
            lock (_ticks) return _ticks.Count(t => t == thread);
        }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!(e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) ?? false) || e.Payload is null) return;
            var kind = e.PayloadNames?.IndexOf("AllocationKind") is { } k and >= 0 ? Convert.ToInt32(e.Payload[k]) : -1;
            if (kind == 1) lock (_ticks) _ticks.Add((ulong)e.OSThreadId);
        }
    }
}

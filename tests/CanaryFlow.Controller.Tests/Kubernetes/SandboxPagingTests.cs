using System.Text.Json;
using k8s;
using CanaryFlow.Controller.Kubernetes.Model;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The sandbox lists in pages as the real server does (<c>limit</c>, <c>continue</c>): the controller reads
/// 10,000 Canaries page by page, never all in one response.</summary>
public sealed class SandboxPagingTests : SandboxTest
{
    [Fact]
    public async Task A_list_with_a_limit_comes_in_pages_that_together_hold_every_object_once_in_order()
    {
        var names = Enumerable.Range(0, 5).Select(i => $"c-{i}").ToList();
        foreach (var n in names) await Host.CreateCanaryAsync(n, n);

        var seen = new List<string>();
        string? next = null;
        var pages = 0;
        do
        {
            var page = (JsonElement)await Host.Client.CustomObjects.ListNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version,
                Host.Namespace, CanaryResource.Plural, continueParameter: next, limit: 2);
            var items = page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("metadata").GetProperty("name").GetString()!).ToList();
            Assert.InRange(items.Count, 1, 2);
            seen.AddRange(items);
            next = page.GetProperty("metadata").TryGetProperty("continue", out var c) ? c.GetString() : null;
            pages++;
        } while (!string.IsNullOrEmpty(next) && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(names, seen);
    }
}

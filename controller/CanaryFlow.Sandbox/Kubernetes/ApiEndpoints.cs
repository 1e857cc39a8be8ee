using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// The Kubernetes REST protocol over the <see cref="ObjectStore"/>: /api/v1/... for the core group,
/// /apis/{group}/{version}/... for the others; list, watch, get, create, replace, patch, delete and the
/// status subresource, with v1 Status bodies for every failure.
/// </summary>
public sealed class ApiEndpoints(ObjectStore store, FaultInjector faults, TimeProvider time, TimeSpan bookmarkInterval, IReadOnlyCollection<ResourceKind> served)
{
    private sealed record Target(ResourceKind Kind, string? Namespace, string? Name, string? Subresource);

    public async Task HandleAsync(HttpContext context)
    {
        try
        {
            if (faults.Next(context.Request.Method, context.Request.Path.Value ?? "") is { } fault)
            {
                if (fault.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString();
                throw new ApiError(fault.StatusCode, fault.StatusCode == 429 ? "TooManyRequests" : fault.StatusCode == 409 ? "Conflict" : "InternalError",
                    $"injected fault {fault.StatusCode}");
            }
            var target = Parse(context.Request.Path.Value ?? "");
            await DispatchAsync(context, target);
        }
        catch (ApiError e) { await WriteAsync(context, e.Code, e.ToStatus()); }
        catch (JsonException e) { await WriteAsync(context, 400, ApiError.BadRequest($"invalid JSON: {e.Message}").ToStatus()); }
        catch (Exception e) when (e is not OperationCanceledException && !context.Response.HasStarted)
        {
            await WriteAsync(context, 500, new ApiError(500, "InternalError", $"an error on the server (\"{e.Message}\") has prevented the request from succeeding").ToStatus());
        }
    }

    private Target Parse(string path)
    {
        var s = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var (group, version, rest) = s switch
        {
            ["api", var v, .. var r] => ("", v, r),
            ["apis", var g, var v, .. var r] => (g, v, r),
            _ => throw new ApiError(404, "NotFound", "the server could not find the requested resource"),
        };
        var (ns, plural, name, sub) = rest switch
        {
            ["namespaces", var n, var p] => (n, p, null, null),
            ["namespaces", var n, var p, var m] => (n, p, m, null),
            ["namespaces", var n, var p, var m, var sr] => (n, p, m, sr),
            [var p] => ((string?)null, p, (string?)null, (string?)null),
            [var p, var m] => (null, p, m, null), // a cluster-scoped object: /api/v1/namespaces/{name}
            _ => throw new ApiError(404, "NotFound", "the server could not find the requested resource"),
        };
        var kind = ResourceKinds.Find(group, version, plural) is { } known && served.Contains(known) ? known
                   : throw new ApiError(404, "NotFound", "the server could not find the requested resource");
        if (!kind.Namespaced && ns is not null) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
        if (sub == "scale" && kind == ResourceKinds.Deployments) return new Target(kind, ns, name, sub);
        if (sub is not null && sub != "status") throw new ApiError(404, "NotFound", "the server could not find the requested resource");
        if (sub == "status" && !kind.HasStatus) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
        return new Target(kind, ns, name, sub);
    }

    private async Task DispatchAsync(HttpContext context, Target t)
    {
        var request = context.Request;
        if (t.Subresource == "scale") { await ScaleAsync(context, t); return; }
        var statusOnly = t.Subresource == "status";
        switch (request.Method, t.Name)
        {
            case ("GET", null) when IsTrue(request.Query["watch"]):
                await WatchAsync(context, t);
                return;
            case ("GET", null):
            {
                int? limit = int.TryParse(request.Query["limit"], out var l) && l > 0 ? l : null;
                var (items, rv, next) = store.ListPageJson(t.Kind, t.Namespace, LabelSelector.Parse(request.Query["labelSelector"]), FieldName(request),
                    limit, ContinueToken.Read(request.Query["continue"]));
                var metadata = new JsonObject { ["resourceVersion"] = rv.ToString() };
                if (next is { } after) metadata["continue"] = ContinueToken.Write(after);
                await WriteListAsync(context, new JsonObject
                {
                    ["kind"] = t.Kind.Kind + "List",
                    ["apiVersion"] = t.Kind.ApiVersion,
                    ["metadata"] = metadata,
                }, items);
                return;
            }
            case ("POST", null):
                await WriteAsync(context, 201, store.Create(t.Kind, RequireNamespace(t), await ReadObjectAsync(request)));
                return;
            case ("GET", { } name):
                await WriteJsonAsync(context, 200, store.GetJson(t.Kind, RequireNamespace(t), name));
                return;
            case ("PUT", { } name):
                await WriteAsync(context, 200, store.Update(t.Kind, RequireNamespace(t), name, await ReadObjectAsync(request), statusOnly));
                return;
            case ("PATCH", { } name):
            {
                var patch = await ReadBodyAsync(request);
                var mediaType = (request.ContentType ?? "").Split(';')[0].Trim();
                Func<JsonObject, JsonNode> apply = mediaType switch
                {
                    "application/json-patch+json" => current => JsonPatching.ApplyJsonPatch(current,
                        patch as JsonArray ?? throw ApiError.BadRequest("a JSON patch must be an array of operations")),
                    "application/merge-patch+json" or "application/strategic-merge-patch+json" => current =>
                        JsonPatching.MergePatch(current, patch as JsonObject ?? throw ApiError.BadRequest("a merge patch must be an object"))!,
                    _ => throw new ApiError(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"),
                };
                await WriteAsync(context, 200, store.Patch(t.Kind, RequireNamespace(t), name, apply, statusOnly));
                return;
            }
            case ("DELETE", { } name):
            {
                var (deleted, gone) = store.Delete(t.Kind, RequireNamespace(t), name);
                // Held by finalizers: the real server answers 200 with the object as now marked. The real server's
                // storage for Services returns the deleted object, not a Status (clients expect a V1Service).
                if (!gone || t.Kind == ResourceKinds.Services)
                {
                    await WriteAsync(context, 200, deleted);
                    return;
                }
                var status = StatusBodies.Status(200, "", "");
                status.Remove("reason");
                status.Remove("message");
                status["details"] = new JsonObject
                {
                    ["name"] = name, ["group"] = t.Kind.Group, ["kind"] = t.Kind.Plural, ["uid"] = deleted["metadata"]?["uid"]?.DeepClone(),
                };
                await WriteAsync(context, 200, status);
                return;
            }
            default:
                throw new ApiError(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
        }
    }

    /// <summary>The scale subresource (autoscaling/v1 Scale): reads and writes spec.replicas only.</summary>
    private async Task ScaleAsync(HttpContext context, Target t)
    {
        var ns = RequireNamespace(t);
        var name = t.Name!;
        var request = context.Request;
        JsonObject result;
        switch (request.Method)
        {
            case "GET":
                result = store.Get(t.Kind, ns, name);
                break;
            case "PUT" or "PATCH":
            {
                var body = await ReadBodyAsync(request);
                result = store.Patch(t.Kind, ns, name, current =>
                {
                    var wanted = request.Method == "PUT" ? body as JsonObject
                        : body is JsonArray ops ? JsonPatching.ApplyJsonPatch(ToScale(current), ops) as JsonObject
                        : JsonPatching.MergePatch(ToScale(current), body) as JsonObject;
                    var rv = (string?)wanted?["metadata"]?["resourceVersion"];
                    if (!string.IsNullOrEmpty(rv) && rv != (string?)current["metadata"]!["resourceVersion"]) throw ApiError.Conflict(t.Kind, name);
                    current["spec"]!["replicas"] = (int?)wanted?["spec"]?["replicas"] ?? throw ApiError.Invalid(t.Kind, name, "spec.replicas: Required value");
                    return current;
                }, statusOnly: false);
                break;
            }
            default: throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
        }
        await WriteAsync(context, 200, ToScale(result));
    }

    private static JsonObject ToScale(JsonObject deployment)
    {
        var meta = deployment["metadata"]!;
        var selector = deployment["spec"]?["selector"]?["matchLabels"] as JsonObject ?? [];
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = meta["name"]?.DeepClone(), ["namespace"] = meta["namespace"]?.DeepClone(), ["uid"] = meta["uid"]?.DeepClone(),
                ["resourceVersion"] = meta["resourceVersion"]?.DeepClone(), ["creationTimestamp"] = meta["creationTimestamp"]?.DeepClone(),
            },
            ["spec"] = new JsonObject { ["replicas"] = deployment["spec"]?["replicas"]?.DeepClone() },
            ["status"] = new JsonObject
            {
                ["replicas"] = (int?)deployment["status"]?["replicas"] ?? 0,
                ["selector"] = string.Join(",", selector.Select(p => $"{p.Key}={p.Value}")),
            },
        };
    }

    private async Task WatchAsync(HttpContext context, Target t)
    {
        var request = context.Request;
        long? since = long.TryParse(request.Query["resourceVersion"], out var rv) ? rv : null;
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (int.TryParse(request.Query["timeoutSeconds"], out var seconds) && seconds > 0) timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
        WatchSubscription subscription;
        try
        {
            subscription = store.Watch(t.Kind, t.Namespace, LabelSelector.Parse(request.Query["labelSelector"]), FieldName(request), since);
        }
        catch (ApiError e) when (e.Code == 410)
        {
            // The real server answers 200 and reports expiry as an ERROR event carrying a 410 Status.
            await WriteLineAsync(response, new JsonObject { ["type"] = "ERROR", ["object"] = e.ToStatus() }, timeout.Token);
            return;
        }
        var bookmarks = IsTrue(request.Query["allowWatchBookmarks"]);
        try
        {
            await response.StartAsync(timeout.Token);
            var reader = subscription.Events;
            while (!timeout.IsCancellationRequested)
            {
                var wait = reader.WaitToReadAsync(timeout.Token).AsTask();
                if (bookmarks && await Task.WhenAny(wait, Task.Delay(bookmarkInterval, time, timeout.Token)) != wait)
                {
                    await WriteLineAsync(response, new JsonObject
                    {
                        ["type"] = "BOOKMARK",
                        ["object"] = new JsonObject
                        {
                            ["kind"] = t.Kind.Kind, ["apiVersion"] = t.Kind.ApiVersion,
                            ["metadata"] = new JsonObject { ["resourceVersion"] = store.CurrentResourceVersion.ToString() },
                        },
                    }, timeout.Token);
                    continue;
                }
                if (!await wait) break; // dropped by the sandbox: the stream ends as a dropped connection would
                while (reader.TryRead(out var e))
                {
                    await response.Body.WriteAsync(WatchLine(e), timeout.Token);
                    await response.Body.FlushAsync(timeout.Token);
                }
            }
        }
        catch (OperationCanceledException) { } // client went away or timeoutSeconds passed
        finally { subscription.Close(); }
    }

    // One change goes to every watch that matches it (each replica watches every Canary): serialised once, not per watch.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<StoredEvent, byte[]> WatchLines = new();

    // The event's object is fully built when stored (ObjectStore.Record), so watches may read it side by side.
    private static byte[] WatchLine(StoredEvent e) => WatchLines.GetValue(e, static change =>
        Encoding.UTF8.GetBytes(new JsonObject { ["type"] = change.Type, ["object"] = change.Object.DeepClone() }.ToJsonString() + "\n"));

    private static async Task WriteLineAsync(HttpResponse response, JsonObject line, CancellationToken ct)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(line.ToJsonString() + "\n"), ct);
        await response.Body.FlushAsync(ct);
    }

    /// <summary>The store keys cluster-scoped objects by the empty namespace.</summary>
    private static string RequireNamespace(Target t) => !t.Kind.Namespaced ? "" :
        t.Namespace ?? throw new ApiError(404, "NotFound", "the server could not find the requested resource");

    private static string? FieldName(HttpRequest request)
    {
        var selector = request.Query["fieldSelector"].ToString();
        if (string.IsNullOrEmpty(selector)) return null;
        foreach (var part in selector.Split(','))
        {
            var kv = part.Split('=', 2);
            if (kv.Length == 2 && kv[0].Trim() == "metadata.name") return kv[1].Trim();
            if (kv.Length == 2 && kv[0].Trim() == "metadata.namespace") continue;
            throw ApiError.BadRequest($"field label not supported: {kv[0]}");
        }
        return null;
    }

    private static bool IsTrue(string? value) => value is "true" or "1";

    private static async Task<JsonNode?> ReadBodyAsync(HttpRequest request)
    {
        var node = await JsonNode.ParseAsync(request.Body);
        return node ?? throw ApiError.BadRequest("the request body is empty");
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpRequest request) =>
        await ReadBodyAsync(request) as JsonObject ?? throw ApiError.BadRequest("the request body must be a JSON object");

    /// <summary>Stored JSON as it is: no parse and no second serialisation per read.</summary>
    private static async Task WriteJsonAsync(HttpContext context, int code, byte[] json)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(json);
    }

    /// <summary>A list: its head, then each item's stored JSON in an "items" array.</summary>
    private static async Task WriteListAsync(HttpContext context, JsonObject head, IReadOnlyList<byte[]> items)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        var body = context.Response.Body;
        var open = head.ToJsonString();
        await body.WriteAsync(Encoding.UTF8.GetBytes(open[..^1] + ",\"items\":["));
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) await body.WriteAsync(","u8.ToArray());
            await body.WriteAsync(items[i]);
        }
        await body.WriteAsync("]}"u8.ToArray());
    }

    private static async Task WriteAsync(HttpContext context, int code, JsonObject body)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }
}

/// <summary>The <c>continue</c> token of a paged list: the last (namespace, name) given, opaque to clients.</summary>
internal static class ContinueToken
{
    public static string Write((string Namespace, string Name) after) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(after.Namespace + "/" + after.Name));

    public static (string, string)? Read(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('/', 2);
            return parts.Length == 2 ? (parts[0], parts[1]) : throw new FormatException();
        }
        catch (FormatException) { throw ApiError.BadRequest("invalid continue token"); }
    }
}

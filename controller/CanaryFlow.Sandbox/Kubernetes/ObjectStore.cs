using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>One change, as a watch stream reports it.</summary>
public sealed record StoredEvent(long ResourceVersion, ResourceKind Kind, string Namespace, string Type, JsonObject Object)
{
    /// <summary>The object as stored before this change (null for a create), kept with the change as the real server's
    /// watch cache keeps its PrevObject: a watch resumed from history must judge each change as a live one did.</summary>
    internal StoredObject? Previous { get; init; }

    // What selector watches see instead of this change, made once for all of them (each variant is then serialised once).
    // Made and read under the store's lock: every Offer runs in it.
    private StoredEvent? _entered, _left;

    /// <summary>This change as a watch with <paramref name="selector"/> sees it, or null when it does not see it: the real
    /// kube-apiserver (cacher's convertToWatchEvent, and its etcd watcher alike) tests the object before and after. An
    /// object that starts matching is ADDED; one that stops matching is DELETED, with its previous content and this
    /// change's resourceVersion (so the watch can resume after it). Without a selector nothing changes: a create has no
    /// previous object, every other change has one, and a delete matches only before.</summary>
    internal StoredEvent? SeenThrough(LabelSelector selector)
    {
        var before = Previous is not null && selector.Matches(Previous.Labels);
        var now = Type != "DELETED" && selector.Matches(Object);
        return (before, now) switch
        {
            (false, false) => null,
            (false, true) when Type != "ADDED" => _entered ??= new StoredEvent(ResourceVersion, Kind, Namespace, "ADDED", Object),
            (true, false) when Type != "DELETED" => _left ??= new StoredEvent(ResourceVersion, Kind, Namespace, "DELETED", Previous!.At(ResourceVersion)),
            _ => this,
        };
    }
}

/// <summary>
/// The sandbox's etcd: every object of every kind, one global resourceVersion counter, and the change
/// history that watches resume from. History older than the compaction point answers 410 Gone, as etcd
/// compaction makes the real server do. One lock: the sandbox favours obvious correctness over throughput. Objects are
/// kept as their JSON bytes, as etcd keeps them: a read takes the bytes under the lock and parses them outside it, so
/// readers neither wait on each other's copies nor share a mutable tree (10,000 Canaries over 3 replicas queued every
/// request behind deep copies made under the lock), and a stored object costs its serialised size, not a node tree.
/// </summary>
public sealed class ObjectStore(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(ResourceKind, string, string), StoredObject> _objects = [];
    // Each kind's keys in list order: a list (and a simulator's lookup of a kind that has few objects, e.g. HPAs) reads
    // its own kind only, not every object of the sandbox (tens of thousands at 10,000 Canaries).
    private readonly Dictionary<ResourceKind, SortedSet<(string Namespace, string Name)>> _byKind = [];
    private static readonly Comparer<(string Namespace, string Name)> ListOrder = Comparer<(string Namespace, string Name)>.Create(Compare);
    private readonly List<StoredEvent> _history = [];
    private readonly List<WatchSubscription> _watches = [];
    private long _resourceVersion = 1000;
    private long _compactedAt; // every change up to this version is forgotten: a watch from an older one gets 410

    /// <summary>Raised after every committed change (outside the lock); the Deployment simulation listens.</summary>
    public event Action<StoredEvent>? Committed;

    public long CurrentResourceVersion { get { lock (_gate) return _resourceVersion; } }

    public (IReadOnlyList<JsonObject> Items, long ResourceVersion) List(ResourceKind kind, string? ns, LabelSelector selector, string? name = null)
    {
        var (items, version, _) = ListPage(kind, ns, selector, name, limit: null, after: null);
        return (items, version);
    }

    /// <summary>A list in pages, as the real server's <c>limit</c>/<c>continue</c>: at most <paramref name="limit"/> objects
    /// after the key <paramref name="after"/> ((namespace, name) order), and the last key given when more remain. Unlike
    /// etcd, later pages show the objects as they are then, not as at the first page; a watch from the first page's
    /// resourceVersion replays those changes anyway, so a client ends up where the real server would take it.</summary>
    public (IReadOnlyList<JsonObject> Items, long ResourceVersion, (string, string)? Next) ListPage(ResourceKind kind, string? ns, LabelSelector selector,
        string? name, int? limit, (string Namespace, string Name)? after)
    {
        var (json, version, next) = ListPageJson(kind, ns, selector, name, limit, after);
        return (json.Select(Parse).ToList(), version, next); // parsed outside the lock
    }

    /// <summary><see cref="ListPage"/> as the stored JSON of each object, for the API to write without a parse.</summary>
    public (IReadOnlyList<byte[]> Items, long ResourceVersion, (string, string)? Next) ListPageJson(ResourceKind kind, string? ns, LabelSelector selector,
        string? name, int? limit, (string Namespace, string Name)? after)
    {
        lock (_gate)
        {
            var keys = _byKind.GetValueOrDefault(kind) ?? [];
            var matching = keys.Where(k => (ns is null || k.Namespace == ns) && (name is null || k.Name == name) && (after is not { } a || Compare(k, a) > 0))
                .Select(k => (Key: k, Value: _objects[(kind, k.Namespace, k.Name)]))
                .Where(p => selector.Matches(p.Value.Labels));
            var page = (limit is > 0 ? matching.Take(limit.Value + 1) : matching).ToList();
            var more = limit is > 0 && page.Count > limit.Value;
            if (more) page.RemoveAt(page.Count - 1);
            return (page.Select(p => p.Value.Json).ToList(), _resourceVersion, more ? page[^1].Key : null);
        }
    }

    /// <summary>A copy of an event's object for a caller to keep (the event's own is shared by watches and listeners).</summary>
    private static JsonObject CopyOf(StoredEvent change) => (JsonObject)change.Object.DeepClone();

    private static JsonObject Parse(byte[] json) => (JsonObject)JsonNode.Parse(json)!;

    private void Put(ResourceKind kind, string ns, string name, JsonObject obj)
    {
        _objects[(kind, ns, name)] = StoredObject.Of(obj);
        if (!_byKind.TryGetValue(kind, out var keys)) _byKind[kind] = keys = new SortedSet<(string, string)>(ListOrder);
        keys.Add((ns, name));
    }

    private void Drop(ResourceKind kind, string ns, string name)
    {
        _objects.Remove((kind, ns, name));
        _byKind.GetValueOrDefault(kind)?.Remove((ns, name));
    }

    private static int Compare((string, string) x, (string, string) y)
    {
        var byNamespace = string.CompareOrdinal(x.Item1, y.Item1);
        return byNamespace != 0 ? byNamespace : string.CompareOrdinal(x.Item2, y.Item2);
    }

    public JsonObject Get(ResourceKind kind, string ns, string name) => Parse(GetJson(kind, ns, name));

    /// <summary>The stored JSON of one object (the API writes it as it is).</summary>
    public byte[] GetJson(ResourceKind kind, string ns, string name)
    {
        lock (_gate) return Find(kind, ns, name).Json;
    }

    public JsonObject Create(ResourceKind kind, string ns, JsonObject body)
    {
        StoredEvent change;
        lock (_gate)
        {
            var metadata = body["metadata"] as JsonObject ?? throw ApiError.BadRequest("metadata is required");
            CheckNamespace(kind, ns, metadata);
            var name = (string?)metadata["name"];
            if (string.IsNullOrEmpty(name) && (string?)metadata["generateName"] is { Length: > 0 } prefix)
                name = prefix + Guid.NewGuid().ToString("N")[..5];
            if (string.IsNullOrEmpty(name)) throw ApiError.Invalid(kind, "", "metadata.name: Required value: name or generateName is required");
            if (_objects.ContainsKey((kind, ns, name))) throw ApiError.AlreadyExists(kind, name);

            var obj = (JsonObject)body.DeepClone();
            obj["apiVersion"] = kind.ApiVersion;
            obj["kind"] = kind.Kind;
            var meta = (JsonObject)obj["metadata"]!;
            meta["name"] = name;
            if (kind.Namespaced) meta["namespace"] = ns;
            else meta.Remove("namespace");
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Timestamp(time);
            meta["generation"] = 1;
            meta.Remove("deletionTimestamp"); // deletion starts only with a DELETE
            meta.Remove("deletionGracePeriodSeconds");
            if (kind.HasStatus) obj.Remove("status"); // status is written only through the subresource
            Defaults.Apply(kind, obj);
            Admission.Check(kind, name, obj);
            change = Commit(kind, ns, name, obj, "ADDED");
        }
        Committed?.Invoke(change);
        return CopyOf(change);
    }

    /// <summary>PUT. <paramref name="statusOnly"/> is the status subresource: only status changes.</summary>
    public JsonObject Update(ResourceKind kind, string ns, string name, JsonObject body, bool statusOnly)
    {
        StoredEvent? change;
        JsonObject? unchanged = null;
        lock (_gate)
        {
            var existing = Existing(kind, ns, name);
            if (body["metadata"] is JsonObject sent) CheckNamespace(kind, ns, sent);
            var bodyName = (string?)body["metadata"]?["name"];
            if (bodyName is not null && bodyName != name)
                throw ApiError.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
            var expected = (string?)body["metadata"]?["resourceVersion"];
            if (!string.IsNullOrEmpty(expected) && expected != (string?)existing["metadata"]!["resourceVersion"])
                throw ApiError.Conflict(kind, name);

            JsonObject next;
            if (statusOnly)
            {
                next = (JsonObject)existing.DeepClone();
                next["status"] = body["status"]?.DeepClone();
            }
            else
            {
                next = (JsonObject)body.DeepClone();
                next["apiVersion"] = kind.ApiVersion;
                next["kind"] = kind.Kind;
                var meta = next["metadata"] as JsonObject ?? new JsonObject();
                next["metadata"] = meta;
                var old = (JsonObject)existing["metadata"]!;
                Finalizers.CheckNoDeletionTimestampSet(kind, name, old, meta);
                foreach (var key in SystemFields)
                {
                    if (old[key] is { } kept) meta[key] = kept.DeepClone();
                    else meta.Remove(key);
                }
                Finalizers.CheckNoneAdded(kind, name, old, meta);
                // The main endpoint keeps the stored status; an object without one stays without (no "status": null).
                if (kind.HasStatus && existing["status"] is { } status) next["status"] = status.DeepClone();
                else if (kind.HasStatus) next.Remove("status");
                else if (!next.ContainsKey("status") && existing.ContainsKey("status")) next.Remove("status");
                Defaults.Apply(kind, next);
                // A Deployment's annotations count as its spec (the real server's deployment strategy: they are copied to
                // its ReplicaSets); its labels do not.
                if (!JsonNode.DeepEquals(WithoutMetadataAndStatus(next), WithoutMetadataAndStatus(existing))
                    || (kind == ResourceKinds.Deployments && !JsonNode.DeepEquals(meta["annotations"], old["annotations"])))
                    meta["generation"] = ((long?)old["generation"] ?? 1) + 1;
            }
            Admission.Check(kind, name, next, existing);
            if (Finalizers.Released(next))
            {
                // The last finalizer is gone from an object being deleted: the server deletes it instead of storing it.
                change = Record(kind, ns, next, "DELETED");
                Drop(kind, ns, name);
            }
            else if (JsonNode.DeepEquals(next, existing)) { change = null; unchanged = existing; }
            else change = Commit(kind, ns, name, next, "MODIFIED");
        }
        if (change is null) return unchanged!; // our own copy: Existing parses one per call
        Committed?.Invoke(change);
        return CopyOf(change);
    }

    /// <summary>Applies a patch to the stored object and stores the result as an update would, so a patch that
    /// sets metadata.resourceVersion is a conditional write (409 when stale), as on the real server.</summary>
    public JsonObject Patch(ResourceKind kind, string ns, string name, Func<JsonObject, JsonNode> patch, bool statusOnly)
    {
        lock (_gate) // System.Threading.Lock is re-entrant: Update takes it again
        {
            var current = Existing(kind, ns, name);
            if (patch(current) is not JsonObject patched || patched["metadata"] is not JsonObject meta)
                throw ApiError.BadRequest("the patch must leave an object with metadata");
            if (string.IsNullOrEmpty((string?)meta["resourceVersion"])) meta["resourceVersion"] = current["metadata"]!["resourceVersion"]?.DeepClone();
            return Update(kind, ns, name, patched, statusOnly);
        }
    }

    /// <summary>DELETE. An object with finalizers is only marked (deletionTimestamp, a MODIFIED event) and stays
    /// until an update empties its finalizers; a second DELETE of a marked object changes nothing.</summary>
    /// <returns>The object, and whether it is gone now (false: it waits for its finalizers).</returns>
    public (JsonObject Object, bool Deleted) Delete(ResourceKind kind, string ns, string name)
    {
        var changes = new List<StoredEvent>();
        bool deleted;
        lock (_gate)
        {
            var existing = Existing(kind, ns, name);
            if (Finalizers.Pending(existing))
            {
                deleted = false;
                if (Finalizers.MarkDeleting(existing, Timestamp(time)) is not { } marked) return (existing, false);
                changes.Add(Commit(kind, ns, name, marked, "MODIFIED"));
            }
            else
            {
                deleted = true;
                // A namespace takes its contents with it (the real server gets there through Terminating).
                if (kind == ResourceKinds.Namespaces)
                    foreach (var key in _objects.Keys.Where(k => k.Item1.Namespaced && k.Item2 == name).ToList())
                    {
                        changes.Add(Record(key.Item1, key.Item2, Parse(_objects[key].Json), "DELETED"));
                        Drop(key.Item1, key.Item2, key.Item3);
                    }
                changes.Add(Record(kind, ns, existing, "DELETED"));
                Drop(kind, ns, name);
            }
        }
        foreach (var change in changes) Committed?.Invoke(change);
        return (CopyOf(changes[^1]), deleted);
    }

    /// <summary>Opens a watch. <paramref name="sinceResourceVersion"/> null or 0: synthetic ADDED events for
    /// what exists now, then changes; otherwise every change after that version.</summary>
    /// <exception cref="ApiError">410 when that version has been compacted away.</exception>
    public WatchSubscription Watch(ResourceKind kind, string? ns, LabelSelector selector, string? name, long? sinceResourceVersion)
    {
        lock (_gate)
        {
            var subscription = new WatchSubscription(e => e.Kind == kind && (ns is null || e.Namespace == ns)
                                                          && (name is null || (string?)e.Object["metadata"]!["name"] == name)
                                                          ? e.SeenThrough(selector) : null, _resourceVersion, Remove);
            if (sinceResourceVersion is null or 0)
            {
                foreach (var item in List(kind, ns, selector, name).Items)
                    subscription.Offer(new StoredEvent(_resourceVersion, kind, ns ?? "", "ADDED", item));
            }
            else
            {
                if (sinceResourceVersion < _compactedAt)
                {
                    ExpiredWatches++;
                    throw ApiError.Gone($"too old resource version: {sinceResourceVersion} ({_compactedAt})");
                }
                foreach (var e in _history.Where(e => e.ResourceVersion > sinceResourceVersion)) subscription.Offer(e);
            }
            _watches.Add(subscription);
            return subscription;
        }
    }

    /// <summary>Forgets history before the current version, as etcd's compaction at its current revision R does: R's own
    /// change is kept, so a watch from R - 1 (it needs the changes after it) or from R is still served, and a watch from
    /// an older resourceVersion gets 410 Gone (the real kube-apiserver behaves so for kinds it does not cache).</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _compactedAt = Math.Max(0, _resourceVersion - 1);
            _history.RemoveAll(e => e.ResourceVersion < _resourceVersion);
        }
    }

    /// <summary>Ends every open watch stream, as an API server restart or a load balancer timeout does.</summary>
    public int DropWatches()
    {
        List<WatchSubscription> open;
        lock (_gate) { open = [.. _watches]; _watches.Clear(); }
        foreach (var w in open) w.Close();
        return open.Count;
    }

    /// <summary>How many change events the open watches of <paramref name="kind"/> were sent, all watches together (a
    /// benchmark figure: what each replica's watches cost the API server).</summary>
    public long WatchEventsSent(ResourceKind kind) { lock (_gate) return _watchEventsSent.GetValueOrDefault(kind); }

    private readonly Dictionary<ResourceKind, long> _watchEventsSent = [];

    /// <summary>How many watches were refused with 410 Gone.</summary>
    public int ExpiredWatches { get; private set; }

    public int OpenWatchCount { get { lock (_gate) return _watches.Count; } }

    // Set by the server alone: an update keeps what is stored (deletion starts only with a DELETE).
    private static readonly string[] SystemFields =
        ["name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"];

    /// <summary>An object may leave metadata.namespace out, but one that names another namespace than the URL's is refused.</summary>
    private static void CheckNamespace(ResourceKind kind, string ns, JsonObject metadata)
    {
        if (kind.Namespaced && (string?)metadata["namespace"] is { Length: > 0 } named && named != ns)
            throw ApiError.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
    }

    internal static string Timestamp(TimeProvider time) => time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ");

    private void Remove(WatchSubscription subscription) { lock (_gate) _watches.Remove(subscription); }

    /// <summary>A fresh copy of the stored object, the caller's to change.</summary>
    private JsonObject Existing(ResourceKind kind, string ns, string name) => Parse(Find(kind, ns, name).Json);

    private StoredObject Find(ResourceKind kind, string ns, string name) =>
        _objects.TryGetValue((kind, ns, name), out var obj) ? obj : throw ApiError.NotFound(kind, name);

    private StoredEvent Commit(ResourceKind kind, string ns, string name, JsonObject obj, string type)
    {
        // Stored as parsed JSON, as etcd holds bytes: values built in code (an int) and values read back
        // (a number) then behave the same for every reader.
        obj = (JsonObject)JsonNode.Parse(obj.ToJsonString())!;
        if (Unstructured.IsCustom(kind))
        {
            obj["metadata"]!["resourceVersion"] ??= ""; // set by Record below, in its sorted place
            obj = (JsonObject)Unstructured.Sorted(obj)!;
        }
        var change = Record(kind, ns, obj, type);
        Put(kind, ns, name, obj); // after Record: stored with its new resourceVersion
        return change;
    }

    /// <summary>Records a change. Called before the change is stored (or dropped): what is stored under the object's key
    /// now is the change's previous object.</summary>
    /// <param name="obj">Not changed after this call by anyone: it becomes the event's object, which watches share.</param>
    private StoredEvent Record(ResourceKind kind, string ns, JsonObject obj, string type)
    {
        var previous = _objects.GetValueOrDefault((kind, ns, (string)obj["metadata"]!["name"]!));
        _resourceVersion++;
        obj["metadata"]!["resourceVersion"] = _resourceVersion.ToString();
        var change = new StoredEvent(_resourceVersion, kind, ns, type, Materialized(obj)) { Previous = previous };
        _history.Add(change);
        if (_history.Count > 10_000) { _compactedAt = _history[5_000].ResourceVersion - 1; _history.RemoveRange(0, 5_000); }
        foreach (var w in _watches)
            if (w.Offer(change)) _watchEventsSent[kind] = _watchEventsSent.GetValueOrDefault(kind) + 1;
        return change;
    }

    /// <summary>A parsed tree builds its nodes on first read; walking it once here makes the event's object safe for the
    /// watches and listeners that read it side by side.</summary>
    internal static T Materialized<T>(T node) where T : JsonNode
    {
        switch (node)
        {
            case JsonObject o: foreach (var (_, child) in o) if (child is not null) Materialized(child); break;
            case JsonArray a: foreach (var child in a) if (child is not null) Materialized(child); break;
        }
        return node;
    }

    private static JsonObject WithoutMetadataAndStatus(JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        copy.Remove("metadata");
        copy.Remove("status");
        return copy;
    }
}

/// <summary>One stored object: its JSON bytes, and its labels as a small tree the selectors read (under the store's lock).</summary>
internal sealed record StoredObject(byte[] Json, JsonObject Labels)
{
    public static StoredObject Of(JsonObject obj) => new(
        JsonSerializer.SerializeToUtf8Bytes(obj),
        new JsonObject { ["metadata"] = new JsonObject { ["labels"] = obj["metadata"]?["labels"]?.DeepClone() } });

    /// <summary>This object with a later change's resourceVersion: what a watch sees of an object that left its selector.</summary>
    public JsonObject At(long resourceVersion)
    {
        var obj = (JsonObject)JsonNode.Parse(Json)!;
        obj["metadata"]!["resourceVersion"] = resourceVersion.ToString(); // replaces the value in place: a custom object stays sorted
        return ObjectStore.Materialized(obj);
    }
}

/// <summary>An open watch: the events it sees (<paramref name="view"/>: a change as this watch sees it, or null), queued
/// for the HTTP stream that writes them.</summary>
public sealed class WatchSubscription(Func<StoredEvent, StoredEvent?> view, long openedAt, Action<WatchSubscription> onClose)
{
    private readonly Channel<StoredEvent> _channel = Channel.CreateUnbounded<StoredEvent>();

    public long OpenedAt { get; } = openedAt;
    public ChannelReader<StoredEvent> Events => _channel.Reader;

    /// <returns>Whether this watch sees the change.</returns>
    internal bool Offer(StoredEvent e)
    {
        if (view(e) is not { } seen) return false;
        _channel.Writer.TryWrite(seen);
        return true;
    }

    public void Close()
    {
        _channel.Writer.TryComplete();
        onClose(this);
    }
}

using System.Text.Json;
using CanaryFlow.Contracts;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>
/// A small durable ledger (one append-only JSON-lines file) of notifications by key
/// (RolloutId, Version, channel): "queued" with the transition, then "done". A key once queued is
/// never queued again, so a redelivered RolloutTransitioned or a restart gives no second message;
/// queued-but-not-done entries are sent again after a restart, in the order they were queued and with the time
/// they were first queued (so a message's age, which bounds how long it is retried, survives restarts). Appends are flushed to the OS (not
/// fsynced): cheap, and safe against a process crash, which is the common restart.
/// </summary>
public sealed class NotificationLedger : IDisposable
{
    private const string FileName = "notifications-ledger.jsonl";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Lock _lock = new();
    private readonly string _path;
    private readonly int _retention;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, PendingEntry> _pending = new(StringComparer.Ordinal);
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);
    private readonly Queue<string> _doneOrder = new();
    private StreamWriter _writer;
    private int _lines;
    private long _sequence;

    private sealed record Entry(string Op, string Key, string? Channel = null, RolloutTransitioned? Transition = null, DateTimeOffset? At = null);

    private sealed record PendingEntry(long Sequence, Notification Notification, DateTimeOffset QueuedAt);

    public NotificationLedger(IOptions<NotificationOptions> options, TimeProvider time)
    {
        _time = time;
        Directory.CreateDirectory(options.Value.DataPath);
        _path = Path.Combine(options.Value.DataPath, FileName);
        _retention = options.Value.LedgerRetention;
        Load();
        _writer = Rewrite(); // compacts on every start
    }

    public IReadOnlyList<Notification> Pending
    {
        get { lock (_lock) return [.. _pending.Values.OrderBy(p => p.Sequence).Select(p => p.Notification)]; }
    }

    /// <summary>The pending messages of one channel, in the order they were queued.</summary>
    public IReadOnlyList<Notification> PendingFor(string channel)
    {
        lock (_lock) return [.. _pending.Values.Where(p => p.Notification.ChannelName == channel).OrderBy(p => p.Sequence).Select(p => p.Notification)];
    }

    /// <summary>When the pending message was first queued (before any restart), or null when it is not pending.</summary>
    public DateTimeOffset? QueuedAt(string key)
    {
        lock (_lock) return _pending.TryGetValue(key, out var p) ? p.QueuedAt : null;
    }

    public bool IsDone(string key)
    {
        lock (_lock) return _done.Contains(key);
    }

    /// <returns>False when this key was queued or sent before (a duplicate).</returns>
    public bool TryQueue(Notification notification)
    {
        lock (_lock)
        {
            if (_pending.ContainsKey(notification.Key) || _done.Contains(notification.Key)) return false;
            var entry = new PendingEntry(++_sequence, notification, _time.GetUtcNow());
            _pending[notification.Key] = entry;
            Append(Queued(entry));
            return true;
        }
    }

    /// <summary>Sent, or given up on: either way never sent again.</summary>
    public void MarkDone(string key)
    {
        lock (_lock)
        {
            if (!_pending.Remove(key) || !RememberDone(key)) return;
            Append(new Entry("done", key));
            if (_lines > 2 * _retention + _pending.Count) { _writer.Dispose(); _writer = Rewrite(); }
        }
    }

    private bool RememberDone(string key)
    {
        if (!_done.Add(key)) return false;
        _doneOrder.Enqueue(key);
        while (_doneOrder.Count > _retention) _done.Remove(_doneOrder.Dequeue());
        return true;
    }

    private void Append(Entry entry)
    {
        _writer.WriteLine(JsonSerializer.Serialize(entry, Json));
        _writer.Flush();
        _lines++;
    }

    private void Load()
    {
        if (!File.Exists(_path)) return;
        foreach (var line in File.ReadLines(_path))
        {
            Entry? entry;
            try { entry = JsonSerializer.Deserialize<Entry>(line, Json); }
            catch (JsonException) { continue; } // a torn last line after a crash
            if (entry is null) continue;
            if (entry.Op == "done") { _pending.Remove(entry.Key); RememberDone(entry.Key); }
            else if (entry is { Op: "queued", Channel: { } channel, Transition: { } t } && !_done.Contains(entry.Key))
                _pending[entry.Key] = new PendingEntry(++_sequence, new Notification(entry.Key, channel, t), entry.At ?? _time.GetUtcNow());
        }
    }

    // Writes the retained state to a new file and swaps it in atomically.
    private StreamWriter Rewrite()
    {
        var temp = _path + ".tmp";
        using (var writer = new StreamWriter(temp, append: false))
        {
            foreach (var key in _doneOrder) writer.WriteLine(JsonSerializer.Serialize(new Entry("done", key), Json));
            foreach (var p in _pending.Values.OrderBy(p => p.Sequence)) writer.WriteLine(JsonSerializer.Serialize(Queued(p), Json));
        }
        File.Move(temp, _path, overwrite: true);
        _lines = _doneOrder.Count + _pending.Count;
        return new StreamWriter(new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    private static Entry Queued(PendingEntry p) =>
        new("queued", p.Notification.Key, p.Notification.ChannelName, p.Notification.Transition, p.QueuedAt);

    public void Dispose()
    {
        lock (_lock) _writer.Dispose();
    }
}

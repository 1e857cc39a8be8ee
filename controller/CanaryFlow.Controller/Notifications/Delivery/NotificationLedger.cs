using System.Text.Json;
using CanaryFlow.Contracts;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>
/// A small durable ledger (one append-only JSON-lines file) of notifications by key
/// (RolloutId, Version, channel): "queued" with the transition, then "done". A key once queued is
/// never queued again, so a redelivered RolloutTransitioned or a restart gives no second message;
/// queued-but-not-done entries are sent again after a restart. Appends are flushed to the OS (not
/// fsynced): cheap, and safe against a process crash, which is the common restart.
/// </summary>
public sealed class NotificationLedger : IDisposable
{
    private const string FileName = "notifications-ledger.jsonl";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Lock _lock = new();
    private readonly string _path;
    private readonly int _retention;
    private readonly Dictionary<string, Notification> _pending = new(StringComparer.Ordinal);
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);
    private readonly Queue<string> _doneOrder = new();
    private StreamWriter _writer;
    private int _lines;

    private sealed record Entry(string Op, string Key, string? Channel = null, RolloutTransitioned? Transition = null);

    public NotificationLedger(IOptions<NotificationOptions> options)
    {
        Directory.CreateDirectory(options.Value.DataPath);
        _path = Path.Combine(options.Value.DataPath, FileName);
        _retention = options.Value.LedgerRetention;
        Load();
        _writer = Rewrite(); // compacts on every start
    }

    public IReadOnlyList<Notification> Pending
    {
        get { lock (_lock) return [.. _pending.Values]; }
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
            _pending[notification.Key] = notification;
            Append(new Entry("queued", notification.Key, notification.ChannelName, notification.Transition));
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
                _pending[entry.Key] = new Notification(entry.Key, channel, t);
        }
    }

    // Writes the retained state to a new file and swaps it in atomically.
    private StreamWriter Rewrite()
    {
        var temp = _path + ".tmp";
        using (var writer = new StreamWriter(temp, append: false))
        {
            foreach (var key in _doneOrder) writer.WriteLine(JsonSerializer.Serialize(new Entry("done", key), Json));
            foreach (var n in _pending.Values) writer.WriteLine(JsonSerializer.Serialize(new Entry("queued", n.Key, n.ChannelName, n.Transition), Json));
        }
        File.Move(temp, _path, overwrite: true);
        _lines = _doneOrder.Count + _pending.Count;
        return new StreamWriter(new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    public void Dispose()
    {
        lock (_lock) _writer.Dispose();
    }
}

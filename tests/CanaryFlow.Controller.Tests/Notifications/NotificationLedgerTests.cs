using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Notifications;

public sealed class NotificationLedgerTests : IDisposable
{
    private readonly string _dataPath = Directory.CreateTempSubdirectory("canaryflow-ledger-").FullName;

    private NotificationLedger Open(int retention = 100) =>
        new(Options.Create(new NotificationOptions { DataPath = _dataPath, LedgerRetention = retention }), TimeProvider.System);

    private static Notification Message(long version) =>
        new(Notification.KeyFor(NotificationHost.Transition(version), "ops"), "ops", NotificationHost.Transition(version));

    public void Dispose() => Directory.Delete(_dataPath, recursive: true);

    [Fact]
    public void A_key_is_queued_once_and_remembered_across_reopening_with_pending_ones_kept()
    {
        using (var ledger = Open())
        {
            Assert.True(ledger.TryQueue(Message(1)));
            Assert.False(ledger.TryQueue(Message(1)));
            Assert.True(ledger.TryQueue(Message(2)));
            ledger.MarkDone(Message(1).Key);
        }
        using var reopened = Open();
        Assert.False(reopened.TryQueue(Message(1)));
        Assert.True(reopened.IsDone(Message(1).Key));
        Assert.Equal(Message(2).Key, Assert.Single(reopened.Pending).Key);
        Assert.Equal(2, reopened.Pending[0].Transition.Version);
    }

    [Fact]
    public void A_torn_last_line_after_a_crash_is_skipped()
    {
        using (var ledger = Open()) ledger.TryQueue(Message(1));
        File.AppendAllText(Path.Combine(_dataPath, "notifications-ledger.jsonl"), "{\"op\":\"done\",\"ke");
        using var reopened = Open();
        Assert.Single(reopened.Pending);
    }

    [Fact]
    public void The_file_stays_bounded_as_old_done_keys_are_compacted_away()
    {
        using (var ledger = Open(retention: 100))
        {
            for (var v = 1; v <= 1000; v++)
            {
                ledger.TryQueue(Message(v));
                ledger.MarkDone(Message(v).Key);
            }
            Assert.True(ledger.IsDone(Message(1000).Key));
        }
        Assert.True(File.ReadLines(Path.Combine(_dataPath, "notifications-ledger.jsonl")).Count() <= 2 * 100 + 1);
    }
}

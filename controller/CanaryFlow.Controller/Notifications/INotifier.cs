using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Notifications;

/// <summary>One addressed message: a transition for a named channel, with the key that makes it unique.</summary>
public sealed record Notification(string Key, string ChannelName, RolloutTransitioned Transition)
{
    public static string KeyFor(RolloutTransitioned t, string channel) => $"{t.RolloutId:N}:{t.Version}:{channel}";
}

/// <summary>Posts one transition to one channel of its kind. Throws when the channel did not take it after retries.</summary>
public interface INotifier
{
    /// <summary>The channel kind served, e.g. "slack".</summary>
    string Kind { get; }

    Task NotifyAsync(Notification notification, ChannelOptions channel, CancellationToken cancellationToken);
}

namespace CanaryFlow.Contracts;

// Request/response over the bus, for clients that reach the controller only through RabbitMQ (the CLI
// without --controller). Only the leading replica runs its bus, so the answer comes from the replica
// that would carry out a command sent next.

/// <summary>Asks for one rollout's status. Answered with <see cref="RolloutStatusView"/> or <see cref="RolloutNotFound"/>.</summary>
public sealed record GetRolloutStatus(RolloutTarget Target);

/// <summary>The controller has no rollout for <paramref name="Target"/>: a command for it would be discarded.</summary>
public sealed record RolloutNotFound(RolloutTarget Target);

using CanaryFlow.Controller.Seams;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.Context;
using MassTransit.Saga;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// The rollout saga's repository, backed by the rollout store (as MassTransit's database repositories are backed by
/// their database): each message loads a working copy of its rollout from the store's snapshot, under the rollout's
/// lock (<see cref="RolloutLocks"/>), and the copy is dropped when the message is done. A rollout at rest is therefore
/// one <see cref="RolloutState"/>, the store's snapshot, with no saga instance, semaphore or index entry beside it.
/// Saving is <see cref="PersistRolloutFilter"/>'s, on the saga's pipe (inside this repository's scope): it writes the
/// store, with its version check, before anything the message sent leaves the outbox; so Save and Update here have
/// nothing left to do. The state machine never finalizes a rollout (a finished one stays as the record of its
/// release), so Delete is not reached either.
/// </summary>
public static class RolloutSagaRepository
{
    public static void UseRolloutStore(this ISagaRepositoryRegistrationConfigurator<RolloutState> r)
    {
        r.AddSingleton<RolloutLocks>();
        r.RegisterSagaRepository<RolloutState, IRolloutStore, SagaConsumeContextFactory<IRolloutStore, RolloutState>, RolloutSagaRepositoryContextFactory>();
    }
}

/// <summary>Takes the rollout's lock for the whole message; see <see cref="RolloutSagaRepository"/>.</summary>
public sealed class RolloutSagaRepositoryContextFactory(IRolloutStore store, RolloutLocks locks,
    ISagaConsumeContextFactory<IRolloutStore, RolloutState> factory) : ISagaRepositoryContextFactory<RolloutState>
{
    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<RolloutState, T>> next) where T : class
    {
        // MassTransit's saga filter puts the event's correlation (the rollout id) on the context before it gets here.
        var id = context.CorrelationId ?? throw new SagaException("The message carries no rollout id", typeof(RolloutState), typeof(T));
        using var held = await locks.EnterAsync(id, context.CancellationToken);
        await next.Send(new RolloutSagaRepositoryContext<T>(context, store, factory));
    }

    /// <summary>Every event of the state machine correlates by the rollout id; a query has nothing to find by.</summary>
    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<RolloutState> query, IPipe<SagaRepositoryQueryContext<RolloutState, T>> next)
        where T : class => throw new NotSupportedException("The rollout saga correlates by id only; it has no query repository.");

    public void Probe(ProbeContext context) => context.Add("persistence", "rollout store");
}

/// <summary>One message's view of the repository; the caller holds the rollout's lock throughout.</summary>
public sealed class RolloutSagaRepositoryContext<T> : ConsumeContextScope<T>, SagaRepositoryContext<RolloutState, T>
    where T : class
{
    private readonly ConsumeContext<T> _message;
    private readonly IRolloutStore _store;
    private readonly ISagaConsumeContextFactory<IRolloutStore, RolloutState> _factory;

    public RolloutSagaRepositoryContext(ConsumeContext<T> message, IRolloutStore store, ISagaConsumeContextFactory<IRolloutStore, RolloutState> factory)
        : base(message) => (_message, _store, _factory) = (message, store, factory);

    /// <summary>A new rollout (the state machine's initial event found none): it exists once the filter saved it.</summary>
    public Task<SagaConsumeContext<RolloutState, T>> Add(RolloutState instance) =>
        _factory.CreateSagaConsumeContext(_store, _message, instance, SagaConsumeContextMode.Add);

    public async Task<SagaConsumeContext<RolloutState, T>> Insert(RolloutState instance) =>
        await _store.HeldAsync(instance.CorrelationId, CancellationToken) is not null
            ? null!
            : await _factory.CreateSagaConsumeContext(_store, _message, instance, SagaConsumeContextMode.Insert);

    /// <summary>A copy of the stored snapshot: the saga changes it field by field while readers (ticker, status API)
    /// may read the snapshot; the store keeps a copy of its own when the filter saves. Null: no such rollout here.</summary>
    public async Task<SagaConsumeContext<RolloutState, T>> Load(Guid correlationId) =>
        await _store.HeldAsync(correlationId, CancellationToken) is { } stored
            ? await _factory.CreateSagaConsumeContext(_store, _message, stored.Clone(), SagaConsumeContextMode.Load)
            : null!;

    public Task Save(SagaConsumeContext<RolloutState> context) => Task.CompletedTask;   // the filter saved it
    public Task Update(SagaConsumeContext<RolloutState> context) => Task.CompletedTask; // the filter saved it (or nothing changed)
    public Task Delete(SagaConsumeContext<RolloutState> context) => Task.CompletedTask; // never finalized; see the class summary
    public Task Discard(SagaConsumeContext<RolloutState> context) => Task.CompletedTask; // a working copy: nothing to drop
    public Task Undo(SagaConsumeContext<RolloutState> context) => Task.CompletedTask;    // the store is unchanged until the filter saves

    public Task<SagaConsumeContext<RolloutState, TMessage>> CreateSagaConsumeContext<TMessage>(ConsumeContext<TMessage> consumeContext,
        RolloutState instance, SagaConsumeContextMode mode) where TMessage : class =>
        _factory.CreateSagaConsumeContext(_store, consumeContext, instance, mode);
}

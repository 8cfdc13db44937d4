using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>An event stream nobody reads: a run from a terminal has no orchestration to tell. The
/// <c>JobRunner</c>'s OnEvent still sees every event (the CLI draws its progress from them).</summary>
public sealed class DiscardingEventStream : IStageEventStream
{
    public Task PublishAsync(StageEvent stageEvent, CancellationToken ct = default) => Task.CompletedTask;

    public Task<IReadOnlyList<StageEvent>> DrainAsync(
        string runId, Func<IReadOnlyList<StageEvent>, Task> persist, int maxEvents = 256, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<StageEvent>>([]);
}

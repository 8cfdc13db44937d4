using System.Collections.Concurrent;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline.Tests.Fakes;

/// <summary>The real job queue, with a record of what was sent (for assertions on dispatched jobs).</summary>
public sealed class RecordingJobQueue(IJobQueue inner) : IJobQueue
{
    private readonly ConcurrentQueue<StageJob> _sent = new();

    public IReadOnlyList<StageJob> Sent => _sent.ToList();

    public async Task SendAsync(StageJob job, CancellationToken ct = default)
    {
        await inner.SendAsync(job, ct);
        _sent.Enqueue(job);
    }

    public Task<ReceivedJob?> ReceiveAsync(TimeSpan wait, CancellationToken ct = default) => inner.ReceiveAsync(wait, ct);
    public Task CompleteAsync(ReceivedJob job, CancellationToken ct = default) => inner.CompleteAsync(job, ct);
    public Task DeadLetterAsync(ReceivedJob job, string reason, CancellationToken ct = default) => inner.DeadLetterAsync(job, reason, ct);
}

/// <summary>The real event stream, counting drains so a fake trainer can publish between two of them.</summary>
public sealed class CountingEventStream(IStageEventStream inner) : IStageEventStream
{
    private int _drains;

    public int Drains => Volatile.Read(ref _drains);

    public Task PublishAsync(StageEvent stageEvent, CancellationToken ct = default) => inner.PublishAsync(stageEvent, ct);

    /// <summary>Until this time every drain fails as a storage outage does (503).</summary>
    public DateTime OutageUntil { get; set; }

    public int FailedDrains => Volatile.Read(ref _failedDrains);

    private int _failedDrains;

    public async Task<IReadOnlyList<StageEvent>> DrainAsync(
        string runId, Func<IReadOnlyList<StageEvent>, Task> persist, int maxEvents = 256, CancellationToken ct = default)
    {
        if (DateTime.UtcNow < OutageUntil)
        {
            Interlocked.Increment(ref _failedDrains);
            throw new Azure.RequestFailedException(503, "injected outage: the event stream is unavailable");
        }
        var events = await inner.DrainAsync(runId, persist, maxEvents, ct);
        Interlocked.Increment(ref _drains);
        return events;
    }
}

using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>Publishes the events of one (run, stage, attempt) with sequence numbers counting from 1.
/// Progress events are best effort (a broken event stream must not stop training; the next one
/// carries newer numbers anyway); every other event must reach the stream or the job fails.</summary>
public sealed class StageEventPublisher
{
    private readonly IStageEventStream _stream;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Action<StageEvent>? _observer;
    private readonly Lock _gate = new();
    private long _sequence;
    private bool _ended; // a terminal event got its number: no heartbeat may come after it

    public StageEventPublisher(string runId, string stage, int attempt, string? traceParent,
        IStageEventStream stream, ILogger logger, TimeProvider? time = null, Action<StageEvent>? observer = null)
    {
        RunId = runId;
        Stage = stage;
        Attempt = attempt;
        TraceParent = traceParent;
        _stream = stream;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _observer = observer;
    }

    public string RunId { get; }
    public string Stage { get; }
    public int Attempt { get; }
    public string? TraceParent { get; }

    /// <summary>The sequence number of the last event handed to the stream.</summary>
    public long LastSequence => Interlocked.Read(ref _sequence);

    public Task AcceptedAsync(string message, CancellationToken ct) =>
        PublishAsync(StageEventKind.Accepted, ct, message: message);

    public Task StartedAsync(string message, StageProgress progress, CancellationToken ct) =>
        PublishAsync(StageEventKind.Started, ct, message: message, progress: progress);

    public async Task ProgressAsync(StageProgress progress, CancellationToken ct)
    {
        try
        {
            await PublishAsync(StageEventKind.Progress, ct, progress: progress);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("progress event for step {Step} was not published ({Error}); training goes on", progress.Step, e.Message);
        }
    }

    /// <summary>Best effort, like progress: a missed beat is made up by the next one.</summary>
    public async Task HeartbeatAsync(CancellationToken ct)
    {
        try
        {
            await PublishAsync(StageEventKind.Heartbeat, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("heartbeat was not published ({Error}); the next one tries again", e.Message);
        }
    }

    /// <summary>Publishes a heartbeat every <paramref name="interval"/> until disposed, whatever the job is
    /// doing (downloading, a long step, uploading a checkpoint): the orchestration retries an attempt
    /// whose heartbeat goes stale, within minutes instead of the stage timeout.</summary>
    public IAsyncDisposable StartHeartbeat(TimeSpan interval, CancellationToken ct)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var loop = BeatAsync(interval, stop.Token);
        return new Heartbeat(stop, loop);
    }

    private async Task BeatAsync(TimeSpan interval, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(interval, _time, ct);
                await HeartbeatAsync(ct);
            }
        }
        catch (OperationCanceledException)
        {
            // the attempt ended
        }
    }

    private sealed class Heartbeat(CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await loop;
            stop.Dispose();
        }
    }

    public Task CheckpointSavedAsync(CheckpointRef checkpoint, CancellationToken ct) =>
        PublishAsync(StageEventKind.CheckpointSaved, ct, message: $"checkpoint at step {checkpoint.Step}", checkpoint: checkpoint);

    public Task CompletedAsync(StageResult result, string message, CancellationToken ct) =>
        PublishAsync(StageEventKind.Completed, ct, message: message, checkpoint: result.Checkpoint, result: result);

    public Task FailedAsync(StageFailure failure, CancellationToken ct, CheckpointRef? checkpoint = null) =>
        PublishAsync(StageEventKind.Failed, ct, message: failure.Message, checkpoint: checkpoint, failure: failure);

    private async Task PublishAsync(StageEventKind kind, CancellationToken ct, string? message = null,
        StageProgress? progress = null, CheckpointRef? checkpoint = null, StageResult? result = null, StageFailure? failure = null)
    {
        long sequence;
        lock (_gate)
        {
            if (kind == StageEventKind.Heartbeat && _ended) return;
            _ended |= kind is StageEventKind.Completed or StageEventKind.Failed;
            sequence = ++_sequence;
        }
        var stageEvent = new StageEvent(RunId, Stage, Attempt, sequence, _time.GetUtcNow(), kind,
            message, progress, checkpoint, result, failure, TraceParent);
        stageEvent.Validate();
        await _stream.PublishAsync(stageEvent, ct);
        _observer?.Invoke(stageEvent);
    }
}

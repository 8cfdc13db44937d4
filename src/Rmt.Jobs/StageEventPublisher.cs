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
    private long _sequence;

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

    public Task CheckpointSavedAsync(CheckpointRef checkpoint, CancellationToken ct) =>
        PublishAsync(StageEventKind.CheckpointSaved, ct, message: $"checkpoint at step {checkpoint.Step}", checkpoint: checkpoint);

    public Task CompletedAsync(StageResult result, string message, CancellationToken ct) =>
        PublishAsync(StageEventKind.Completed, ct, message: message, checkpoint: result.Checkpoint, result: result);

    public Task FailedAsync(StageFailure failure, CancellationToken ct, CheckpointRef? checkpoint = null) =>
        PublishAsync(StageEventKind.Failed, ct, message: failure.Message, checkpoint: checkpoint, failure: failure);

    private async Task PublishAsync(StageEventKind kind, CancellationToken ct, string? message = null,
        StageProgress? progress = null, CheckpointRef? checkpoint = null, StageResult? result = null, StageFailure? failure = null)
    {
        var stageEvent = new StageEvent(RunId, Stage, Attempt, Interlocked.Increment(ref _sequence), _time.GetUtcNow(), kind,
            message, progress, checkpoint, result, failure, TraceParent);
        stageEvent.Validate();
        await _stream.PublishAsync(stageEvent, ct);
        _observer?.Invoke(stageEvent);
    }
}

using System.Collections.Concurrent;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline.Tests.Fakes;

/// <summary>Stands in for the GPU job: takes stage jobs off the queue and answers each with stage events,
/// as scripted per test. The default script completes the stage: accepted, started, progress,
/// checkpoint-saved, completed (with metrics), and leaves a plot in runs/{runId}/{stage}/plots/.</summary>
public sealed class FakeTrainer : IAsyncDisposable
{
    public delegate Task Script(StageJob job, FakeTrainer trainer);

    private readonly IJobQueue _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ConcurrentQueue<Exception> _errors = new();

    public FakeTrainer(IJobQueue queue, CountingEventStream events, IArtifactStore store, Script? script = null)
    {
        _queue = queue;
        Events = events;
        Store = store;
        Behaviour = script ?? ((job, t) => t.CompleteAsync(job));
        _loop = Task.Run(LoopAsync);
    }

    public CountingEventStream Events { get; }
    public IArtifactStore Store { get; }
    public Script Behaviour { get; set; }
    public ConcurrentQueue<StageJob> Received { get; } = new();
    public IReadOnlyCollection<Exception> Errors => _errors;

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            ReceivedJob? received;
            try
            {
                received = await _queue.ReceiveAsync(TimeSpan.FromMilliseconds(200), _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            if (received?.Job is not { } job) continue;
            await _queue.CompleteAsync(received).ConfigureAwait(false);
            Received.Enqueue(job);
            _ = Task.Run(async () =>
            {
                try
                {
                    await Behaviour(job, this).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
                catch (Exception e)
                {
                    _errors.Enqueue(e);
                }
            });
        }
    }

    public CancellationToken Stopping => _stop.Token;

    /// <summary>Publishes one after another, so the queue holds them in this order.</summary>
    public async Task PublishAsync(params StageEvent[] events)
    {
        foreach (var e in events) await Events.PublishAsync(e, Stopping).ConfigureAwait(false);
    }

    /// <summary>Waits until the orchestration drained the stream <paramref name="count"/> more times.</summary>
    public async Task WaitForDrainsAsync(int count = 1)
    {
        var target = Events.Drains + count;
        while (Events.Drains < target) await Task.Delay(10, Stopping).ConfigureAwait(false);
    }

    /// <summary>Waits for the cancel marker of the job's run, as the real job does between steps.</summary>
    public async Task WaitForCancelMarkerAsync(StageJob job)
    {
        while (!await Store.ExistsAsync(BlobLayout.CancelMarker(job.RunId)).ConfigureAwait(false))
            await Task.Delay(10, Stopping).ConfigureAwait(false);
    }

    public async Task CompleteAsync(StageJob job)
    {
        await PublishAsync(
            Event(job, 1, StageEventKind.Accepted),
            Event(job, 2, StageEventKind.Started),
            Event(job, 3, StageEventKind.Progress) with { Progress = Progress(5) },
            Event(job, 4, StageEventKind.CheckpointSaved) with { Checkpoint = CheckpointOf(job, 10) }).ConfigureAwait(false);
        await Store.WriteTextAsync($"{BlobLayout.StageArtifacts(job.RunId, job.Stage)}/plots/loss.png", "png bytes").ConfigureAwait(false);
        await PublishAsync(Completed(job, 5)).ConfigureAwait(false);
    }

    public static StageEvent Event(StageJob job, long sequence, StageEventKind kind) =>
        new(job.RunId, job.Stage, job.Attempt, sequence, DateTimeOffset.UnixEpoch.AddSeconds(sequence), kind, TraceParent: job.TraceParent);

    public static StageProgress Progress(long step, double loss = 2.0) =>
        new(step, 10, Loss: loss, Reward: 0.5, Accuracy: 0.25, Budget: 64, ReasoningLength: 12.5, TokensPerSecond: 100);

    public static CheckpointRef CheckpointOf(StageJob job, long step) => new(BlobLayout.Checkpoint(job.RunId, job.Stage, step), step);

    public static StageEvent Completed(StageJob job, long sequence) =>
        Event(job, sequence, StageEventKind.Completed) with
        {
            Progress = Progress(10, 1.0),
            Result = new StageResult(
                job.Kind == StageKind.Eval ? null : CheckpointOf(job, 10),
                MetricsUri: BlobLayout.StageMetrics(job.RunId, job.Stage),
                Metrics: MetricsOf(job)),
        };

    public static StageEvent Failed(StageJob job, long sequence, bool retryable, string message = "CUDA out of memory") =>
        Event(job, sequence, StageEventKind.Failed) with
        {
            Failure = new StageFailure(retryable ? FailureKind.Infrastructure : FailureKind.InvalidInput, message, retryable),
        };

    private static Dictionary<string, double> MetricsOf(StageJob job) => job.Stage switch
    {
        PipelineStages.MidTrainEval => new()
        {
            ["accuracy_easy"] = 0.8, ["accuracy_medium"] = 0.5, ["accuracy_hard"] = 0.25, ["accuracy"] = 0.5125,
            ["reasoning_length"] = 18, ["ntp/accuracy_hard"] = 0.1, ["ntp/accuracy"] = 0.3,
        },
        PipelineStages.PostTrain => new() { ["accuracy_before"] = 0.1, ["reward"] = 0.4 },
        PipelineStages.PostTrainEval => new() { ["accuracy"] = 0.3, ["reasoning_length"] = 40 },
        _ => new() { ["loss"] = 1.0 },
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}

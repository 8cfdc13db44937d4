using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs.Attempts;

/// <summary>What a claimed attempt needs from its runner.</summary>
internal sealed record AttemptServices(
    IArtifactStore Store, IStageEventStream Events, StageExecutors Executors, JobRunnerOptions Options, ILogger Logger,
    TimeProvider Time, Action<StageEvent>? OnEvent);

/// <summary>One claimed attempt of a stage, start to end: 'accepted'; a stage that already completed
/// republishes its result; inputs and resume point (<see cref="StageInputs.PrepareAsync"/>); 'started';
/// the executor with the markers watched (<see cref="AttemptMarkers"/>), progress
/// (<see cref="StageOutputs"/>) and checkpoints (<see cref="CheckpointPublisher"/>) at its steps; then
/// plots, report and 'completed'. Every ending becomes a <see cref="JobOutcome"/>: a stop request is
/// 'failed' (cancelled), an exception 'failed' with its kind; only a hard abort throws.</summary>
internal sealed class JobAttempt
{
    private readonly AttemptServices _services;
    private readonly StageJob _job;
    private readonly JobStopSignal _stop;
    private readonly ClaimRecord _claim;
    private readonly StageEventPublisher _publisher;
    private readonly JobTelemetry.Steps _steps;
    private readonly AttemptMarkers _markers;
    private readonly CheckpointPublisher _checkpoints;
    private readonly string _workDir;
    private readonly int _progressEvery;
    private readonly int _checkpointEvery;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private FailureClassifier.Phase _phase = FailureClassifier.Phase.Inputs;
    private StageOutputs? _outputs;
    private long _totalSteps;

    public JobAttempt(AttemptServices services, StageJob job, JobStopSignal stop, ClaimRecord claim)
    {
        _services = services;
        _job = job;
        _stop = stop;
        _claim = claim;
        _publisher = new StageEventPublisher(job.RunId, job.Stage, job.Attempt, job.TraceParent, services.Events, services.Logger, services.Time, services.OnEvent);
        _workDir = Path.Combine(services.Options.WorkRoot, job.RunId, job.Stage, $"attempt-{job.Attempt.ToString(CultureInfo.InvariantCulture)}");
        _steps = new JobTelemetry.Steps(job, services.Time);
        (_progressEvery, _checkpointEvery) = JobRunner.Intervals(job);
        _markers = new AttemptMarkers(services.Store, job, stop, services.Options.CancelPollInterval, services.Time, services.Logger);
        _checkpoints = new CheckpointPublisher(services.Store, job, _workDir, Writer, _markers, stop, _publisher, services.Logger);
    }

    private ILogger Logger => _services.Logger;
    private string Writer => $"{_claim.Host}/pid-{_claim.ProcessId}/attempt-{_job.Attempt}";

    public async Task<JobOutcome> RunAsync(CancellationToken ct)
    {
        await using var heartbeat = _publisher.StartHeartbeat(_services.Options.HeartbeatInterval, ct); // liveness while claimed
        try
        {
            return await RunStageAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Logger.LogWarning("job {MessageId} aborted hard; nothing saved or published after step checkpoint {Step}",
                _job.MessageId, _checkpoints.Last?.Step ?? 0);
            throw;
        }
        catch (StageStoppedException e)
        {
            return await CancelledAsync(e.Message, e.Checkpoint ?? _checkpoints.Last);
        }
        catch (OperationCanceledException) when (_stop.IsRequested)
        {
            return await CancelledAsync($"{_stop.Detail}; stopped before a checkpoint was due", _checkpoints.Last);
        }
        catch (Exception e)
        {
            var failure = FailureClassifier.Classify(e, _phase);
            if (failure.Kind == FailureKind.InvalidInput) // the message says it all; a stack trace would bury it
                Logger.LogError("job {MessageId} failed ({Kind}, retryable {Retryable}): {Message}",
                    _job.MessageId, failure.Kind, failure.Retryable, failure.Message);
            else
                Logger.LogError(e, "job {MessageId} failed ({Kind}, retryable {Retryable}): {Message}",
                    _job.MessageId, failure.Kind, failure.Retryable, failure.Message);
            await PublishFailureAsync(failure, _checkpoints.Last);
            return new JobOutcome(failure.Retryable ? JobExitCode.FailedRetryable : JobExitCode.FailedPermanent,
                failure.Message, _job, Failure: failure);
        }
    }

    private async Task<JobOutcome> RunStageAsync(CancellationToken ct)
    {
        await _publisher.AcceptedAsync($"claimed by {_claim.Host} (pid {_claim.ProcessId})", ct);
        if (await RepublishCompletedAsync(ct) is { } done) return done;
        await _markers.CheckAsync(ct);

        var executor = _services.Executors.For(_job.Kind);
        var totalSteps = _totalSteps = executor.TotalSteps(_job);
        Folders.Recreate(_workDir);
        _outputs = new StageOutputs(_services.Store, _job, _workDir, totalSteps, _progressEvery, _publisher, _services.Time, Logger);

        // Inputs: missing or corrupted ones are the job's fault; our own checkpoints failing is not.
        using var downloads = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token); // a stop or an abort ends a long download
        var inputs = await new StageInputs(_services.Store, Logger).PrepareAsync(_job, Path.Combine(_workDir, "inputs"), Path.Combine(_workDir, "resume"),
            _services.Options.FixedInputs, () => _phase = FailureClassifier.Phase.Training, downloads.Token);
        var resume = inputs.Search.Resume;
        var resumeNote = inputs.Search.Describe();
        _checkpoints.Last = resume?.Checkpoint;
        Logger.LogInformation("job {MessageId}: {Note}; {Total} steps in all", _job.MessageId, resumeNote, totalSteps);
        await _publisher.StartedAsync(resumeNote, new StageProgress(resume?.Checkpoint.Step ?? 0, totalSteps), ct);

        var context = new StageContext(_job, _workDir, inputs.DatasetPath, inputs.EvalDatasetPath, inputs.BaseCheckpointDir, resume, totalSteps,
            _stop, Logger, _services.Options.Device, _steps.Around(AfterStepAsync), _steps.Around(ReportAsync), _checkpoints.SaveOnceAsync);
        var outcome = await RunWatchedAsync(executor, context, ct);

        // Outputs: final checkpoint, plots, report, result.
        _phase = FailureClassifier.Phase.Outputs;
        if (outcome.HasCheckpoint && _checkpoints.Last?.Step != outcome.FinalStep)
            throw new InvalidOperationException(
                $"the stage ended at step {outcome.FinalStep} but its newest checkpoint is step {_checkpoints.Last?.Step.ToString(CultureInfo.InvariantCulture) ?? "none"}; " +
                "the executor must call SaveFinalCheckpointAsync, or that step's checkpoint could not be written");
        var finalCheckpoint = outcome.HasCheckpoint ? _checkpoints.Last : null;
        var completed = await _outputs.PublishAsync(outcome, finalCheckpoint, resumeNote, inputs.Datasets, _clock.Elapsed, Writer,
            context.Precision?.ToString(), ct);
        var message = $"completed at step {outcome.FinalStep} ({resumeNote})";
        await _publisher.CompletedAsync(completed, message, ct);
        Logger.LogInformation("job {MessageId} {Message}; report {Report}", _job.MessageId, message, completed.ReportUri);
        if (!_services.Options.KeepWorkDir) Folders.TryDelete(_workDir, Logger);
        return new JobOutcome(JobExitCode.Done, message, _job, completed, ResumedFromStep: resume?.Checkpoint.Step);
    }

    /// <summary>A stage that already completed (its completed event was lost, so a new attempt came) is not trained again.</summary>
    private async Task<JobOutcome?> RepublishCompletedAsync(CancellationToken ct)
    {
        var path = JobBlobs.StageResult(_job.RunId, _job.Stage);
        var previous = await _services.Store.ReadTextAsync(path, ct);
        if (previous is null) return null;
        var result = RmtJson.Parse<StageResult>(previous, path);
        var note = "this stage already completed in an earlier attempt; republishing its result without training";
        Logger.LogInformation("{Note}", note);
        await _publisher.CompletedAsync(result, note, ct);
        return new JobOutcome(JobExitCode.Done, note, _job, result);
    }

    /// <summary>The executor, with the cancel and stop markers watched in the background.</summary>
    private async Task<ExecutorOutcome> RunWatchedAsync(IStageExecutor executor, StageContext context, CancellationToken ct)
    {
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watcher = _markers.WatchAsync(watch.Token);
        try
        {
            _steps.Begin();
            return await executor.RunAsync(context, ct);
        }
        finally
        {
            await watch.CancelAsync();
            await watcher;
        }
    }

    private async Task AfterStepAsync(StageProgress metrics, CheckpointWriter write, CancellationToken ct)
    {
        await _outputs!.ReportProgressAsync(metrics, ct);
        if (metrics.Step % _checkpointEvery == 0) await _checkpoints.SaveOnceAsync(metrics.Step, write, ct);
        if (_stop.IsRequested)
        {
            if (_stop.Reason == StopReason.Superseded)
                throw new StageStoppedException($"{_stop.Detail}; stopped at step {metrics.Step} without saving a checkpoint");
            await _checkpoints.SaveOnceAsync(metrics.Step, write, ct);
            throw new StageStoppedException($"{_stop.Detail}; saved a checkpoint at step {metrics.Step}") { Checkpoint = _checkpoints.Last };
        }
        ct.ThrowIfCancellationRequested();
    }

    private async Task ReportAsync(StageProgress metrics, CancellationToken ct)
    {
        await _outputs!.ReportProgressAsync(metrics, ct);
        if (_stop.IsRequested)
            throw new StageStoppedException($"{_stop.Detail}; stopped at step {metrics.Step} of {_totalSteps}");
        ct.ThrowIfCancellationRequested();
    }

    private async Task<JobOutcome> CancelledAsync(string message, CheckpointRef? checkpoint)
    {
        var failure = new StageFailure(FailureKind.Cancelled, message, _stop.Retryable);
        Logger.LogWarning("job {MessageId} stopped: {Message}", _job.MessageId, message);
        await PublishFailureAsync(failure, checkpoint);
        return new JobOutcome(_stop.Reason == StopReason.Superseded ? JobExitCode.Superseded : JobExitCode.Cancelled,
            message, _job, Failure: failure);
    }

    /// <summary>The last word of an attempt: tried hard, never thrown (the exit code still tells).</summary>
    private async Task PublishFailureAsync(StageFailure failure, CheckpointRef? checkpoint)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _publisher.FailedAsync(failure, timeout.Token, checkpoint);
        }
        catch (Exception e)
        {
            Logger.LogError("the 'failed' event of job {MessageId} could not be published: {Error}", _job.MessageId, FailureClassifier.Describe(e));
        }
    }
}

using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>The life of one stage job, the same in the GPU container and in a local child process:
/// <list type="number">
/// <item>take the job (queue message or file); a malformed one gets a 'failed' event when its run is
///   recoverable and goes to dead-letter (exit 2); a message that earlier executions received and never
///   settled too often (the delivery marker, <see cref="DeliveryLog"/>) goes to dead-letter with a
///   permanent 'failed' event (exit 5);</item>
/// <item>unless the attempt's stop marker says the orchestration gave it up (exit 6), claim it in Blob
///   (runs/{runId}/{stage}/claims/attempt-{n}.json, create-only); a second claimant backs off (exit 3);
///   settle the queue message right after claiming;</item>
/// <item>publish 'accepted', download and verify dataset and base checkpoint, resume from the newest
///   checkpoint of the same run and stage that verifies (saying so when a newer one did not), publish
///   'started';</item>
/// <item>run the stage executor; every ProgressEvery steps publish 'progress' and append to
///   metrics.jsonl, every CheckpointEvery steps and at the end upload a checkpoint and publish
///   'checkpoint-saved';</item>
/// <item>on a stop request (SIGTERM, Ctrl+C, cancel marker) save a checkpoint, publish 'failed'
///   (cancelled) and return (exit 130); on the attempt's stop marker (checked before training, by the
///   watcher, and before every checkpoint upload) stop without saving (exit 6);</item>
/// <item>write the report, plots and result.json, publish 'completed' (exit 0); any exception
///   publishes 'failed' with its kind (exit 4 retryable, 5 permanent).</item>
/// </list>
/// Cancelling the <see cref="CancellationToken"/> passed in is a hard abort (like a kill): nothing is
/// saved or published; the next attempt resumes from the last uploaded checkpoint.</summary>
public sealed class JobRunner
{
    private readonly IArtifactStore _store;
    private readonly IStageEventStream _events;
    private readonly StageExecutors _executors;
    private readonly JobRunnerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DeliveryLog _deliveries;

    public JobRunner(IArtifactStore store, IStageEventStream events, StageExecutors executors, JobRunnerOptions options,
        ILogger logger, TimeProvider? time = null)
    {
        options.Validate();
        _store = store;
        _events = events;
        _executors = executors;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _deliveries = new DeliveryLog(store, logger, _time, options.Host);
    }

    /// <summary>Sees every event this runner publishes, after it reached the stream (CLI progress, tests).</summary>
    public Action<StageEvent>? OnEvent { get; init; }

    /// <summary>Takes one message from <paramref name="queue"/> and runs it. No message within
    /// <see cref="JobRunnerOptions.ReceiveWait"/> is not an error (another replica took it).</summary>
    public async Task<JobOutcome> RunNextAsync(IJobQueue queue, JobStopSignal stop, CancellationToken ct)
    {
        var received = await queue.ReceiveAsync(_options.ReceiveWait, ct);
        if (received is null)
        {
            _logger.LogInformation("no job message arrived within {Wait}; nothing to do", _options.ReceiveWait);
            return new JobOutcome(JobExitCode.Done, "no job message arrived");
        }
        var document = $"job message {received.MessageId}";
        var problem = received.Error;
        var job = received.Job;
        if (job is not null && problem is null)
        {
            try
            {
                job.Validate();
            }
            catch (ContractException e)
            {
                problem = $"{document}: {e.Message}";
            }
        }
        if (job is null || problem is not null)
        {
            problem ??= $"{document} has no job and no error; the queue adapter returned nothing usable";
            var outcome = await RejectAsync(received.Body, problem, ct);
            await queue.DeadLetterAsync(received, problem, ct);
            _logger.LogError("job message {MessageId} moved to dead-letter: {Problem}", received.MessageId, problem);
            return outcome;
        }
        _logger.LogInformation("received job {MessageId} (delivery {Delivery})", job.MessageId, received.DeliveryCount);
        if (await CheckDeliveriesAsync(job, received, queue, ct) is { } given) return given;
        return await RunAsync(job, stop, async c =>
        {
            await queue.CompleteAsync(received, c);
            await _deliveries.SettledAsync(job, received.DeliveryCount, c);
        }, ct);
    }

    /// <summary>The delivery marker (<see cref="DeliveryLog"/>): too many earlier executions received this
    /// job and never settled it; dead-letter it and fail the stage (exit 5). Otherwise note this delivery.</summary>
    private async Task<JobOutcome?> CheckDeliveriesAsync(StageJob job, ReceivedJob received, IJobQueue queue, CancellationToken ct)
    {
        IReadOnlyList<DeliveryLine> unsettled;
        try
        {
            unsettled = await _deliveries.UnsettledAsync(job, ct);
        }
        catch (Exception e) when (FailureClassifier.IsInfrastructure(e) && !ct.IsCancellationRequested)
        {
            _logger.LogWarning("could not read the delivery marker of job {MessageId} ({Error}); going on", job.MessageId, FailureClassifier.Describe(e));
            unsettled = [];
        }
        if (unsettled.Count < _options.MaxUnsettledDeliveries)
        {
            if (unsettled.Count > 0)
                _logger.LogWarning("{Description}; trying again (after {Max} such deliveries the job is dead-lettered)",
                    DeliveryLog.Describe(job, unsettled), _options.MaxUnsettledDeliveries);
            await _deliveries.ReceivedAsync(job, received.DeliveryCount, ct);
            return null;
        }
        var reason = DeliveryLog.Describe(job, unsettled);
        var failure = new StageFailure(FailureKind.Infrastructure, $"{reason}; the job was dead-lettered so that no more executions start for it", Retryable: false);
        var publisher = new StageEventPublisher(job.RunId, job.Stage, job.Attempt, job.TraceParent, _events, _logger, _time, OnEvent);
        try
        {
            await publisher.FailedAsync(failure, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError("the 'failed' event of job {MessageId} could not be published: {Error}", job.MessageId, FailureClassifier.Describe(e));
        }
        await queue.DeadLetterAsync(received, reason, ct);
        await _deliveries.SettledAsync(job, received.DeliveryCount, ct);
        _logger.LogError("job {MessageId} moved to dead-letter: {Reason}", job.MessageId, reason);
        return new JobOutcome(JobExitCode.FailedPermanent, failure.Message, job, Failure: failure);
    }

    /// <summary>Runs the job in <paramref name="json"/> (a --job-file). <paramref name="document"/>
    /// names it in errors.</summary>
    public async Task<JobOutcome> RunJsonAsync(string json, string document, JobStopSignal stop, CancellationToken ct)
    {
        StageJob job;
        try
        {
            job = RmtJson.ParseJob(json, document);
        }
        catch (ContractException e)
        {
            return await RejectAsync(json, e.Message, ct);
        }
        return await RunAsync(job, stop, settle: null, ct);
    }

    /// <summary>Runs a parsed job. <paramref name="settle"/> completes its queue message (null for a file).</summary>
    public async Task<JobOutcome> RunAsync(StageJob job, JobStopSignal stop, Func<CancellationToken, Task>? settle, CancellationToken ct)
    {
        using var span = JobTelemetry.StartJob(job, _options.TraceParent, _options.Host);
        try
        {
            var outcome = await ClaimAndRunAsync(job, stop, settle, ct);
            JobTelemetry.End(span, outcome);
            return outcome;
        }
        catch (Exception e)
        {
            span?.SetStatus(ActivityStatusCode.Error, e.Message);
            throw;
        }
    }

    private async Task<JobOutcome> ClaimAndRunAsync(StageJob job, JobStopSignal stop, Func<CancellationToken, Task>? settle, CancellationToken ct)
    {
        // 1. Claim: create-only blob keyed by run/stage/attempt.
        var claimPath = BlobLayout.Claim(job.RunId, job.Stage, job.Attempt);
        var claim = new ClaimRecord(job.RunId, job.Stage, job.Attempt, _options.Host, Environment.ProcessId, _time.GetUtcNow(), job.MessageId);
        var stopPath = BlobLayout.AttemptStopMarker(job.RunId, job.Stage, job.Attempt);
        bool claimed;
        string? stopped;
        try
        {
            stopped = await _store.ReadTextAsync(stopPath, ct);
            claimed = stopped is null && await _store.TryCreateTextAsync(claimPath, JobsJson.Serialize(claim), ct);
        }
        catch (Exception e) when (FailureClassifier.IsInfrastructure(e) && !ct.IsCancellationRequested)
        {
            // Not claimed and not settled: the message comes back and another try claims it.
            var failure = new StageFailure(FailureKind.Infrastructure, $"could not write claim {claimPath}: {FailureClassifier.Describe(e)}", true);
            _logger.LogError("{Message}; the message stays on the queue for redelivery", failure.Message);
            return new JobOutcome(JobExitCode.FailedRetryable, failure.Message, job, Failure: failure);
        }
        if (stopped is not null)
        {
            var line = $"job {job.MessageId} was given up by the orchestration ({stopPath}: {stopped.Trim()}); this process exits without training";
            _logger.LogWarning("{Line}", line);
            if (settle is not null) await SettleAsync(settle, job, ct);
            return new JobOutcome(JobExitCode.Superseded, line, job);
        }
        if (!claimed)
        {
            var holder = JobsJson.TryParse<ClaimRecord>(await _store.ReadTextAsync(claimPath, ct));
            var who = holder is null ? "another process" : $"host {holder.Host} (pid {holder.ProcessId}) at {holder.ClaimedAt:u}";
            var line = $"job {job.MessageId} is already claimed by {who} ({claimPath}); this process backs off without training";
            _logger.LogWarning("{Line}", line);
            if (settle is not null) await SettleAsync(settle, job, ct); // a duplicate delivery: drop it
            return new JobOutcome(JobExitCode.ClaimedByOther, line, job);
        }
        _logger.LogInformation("claimed {Claim}", claimPath);

        // 2. Settle early: Service Bus locks last at most 5 minutes; the claim now keeps duplicates out.
        if (settle is not null) await SettleAsync(settle, job, ct);

        var attempt = new Attempt(this, job, stop, claim);
        return await attempt.RunAsync(ct);
    }

    /// <summary>A malformed job: tell the run (when it can be recovered) and give up with exit 2.</summary>
    private async Task<JobOutcome> RejectAsync(string? body, string problem, CancellationToken ct)
    {
        var recovered = MalformedJob.TryRecover(body);
        var failure = new StageFailure(FailureKind.InvalidInput, problem, Retryable: false);
        if (recovered is null)
        {
            _logger.LogError("invalid job, and no run id can be recovered from it, so no event is published: {Problem}", problem);
            return new JobOutcome(JobExitCode.InvalidJob, problem, Failure: failure);
        }
        var publisher = new StageEventPublisher(recovered.RunId, recovered.Stage, recovered.Attempt, null, _events, _logger, _time, OnEvent);
        try
        {
            await publisher.FailedAsync(failure, ct);
            _logger.LogError("invalid job for run {RunId} stage {Stage}: {Problem} (published 'failed')", recovered.RunId, recovered.Stage, problem);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError("invalid job for run {RunId}: {Problem}; the 'failed' event could not be published either: {Error}",
                recovered.RunId, problem, FailureClassifier.Describe(e));
        }
        return new JobOutcome(JobExitCode.InvalidJob, problem, Failure: failure);
    }

    private async Task SettleAsync(Func<CancellationToken, Task> settle, StageJob job, CancellationToken ct)
    {
        try
        {
            await settle(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The lock may have expired; a redelivery finds the claim and backs off.
            _logger.LogWarning("could not settle the message of job {MessageId} ({Error}); a redelivery will find the claim and back off",
                job.MessageId, FailureClassifier.Describe(e));
        }
    }

    /// <summary>Training settings of a job: from the stage config, or for an evaluation progress after
    /// every pass and no checkpoints.</summary>
    public static (int ProgressEvery, int CheckpointEvery) Intervals(StageJob job)
    {
        var schedule = job.Kind switch
        {
            StageKind.Pretrain => job.Pretrain?.Schedule,
            StageKind.MidTrain => job.MidTrain?.Schedule,
            StageKind.PostTrain => job.PostTrain?.Schedule,
            _ => null,
        };
        return schedule is not null
            ? (schedule.ProgressEvery, schedule.CheckpointEvery)
            : (1, int.MaxValue);
    }

    /// <summary>One claimed attempt: its events, work folder, checkpoints and metrics.</summary>
    private sealed class Attempt
    {
        private readonly JobRunner _runner;
        private readonly StageJob _job;
        private readonly JobStopSignal _stop;
        private readonly ClaimRecord _claim;
        private readonly StageEventPublisher _publisher;
        private readonly JobTelemetry.Steps _steps;
        private readonly string _workDir;
        private readonly int _progressEvery;
        private readonly int _checkpointEvery;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly List<LocalDataset> _datasets = [];
        private FailureClassifier.Phase _phase = FailureClassifier.Phase.Inputs;
        private CheckpointRef? _lastCheckpoint;
        private Rmt.Training.Model.Precision? _precision; // what the stage computed in, for the report
        private string? _lastLocalCheckpoint;
        private long _totalSteps;

        public Attempt(JobRunner runner, StageJob job, JobStopSignal stop, ClaimRecord claim)
        {
            _runner = runner;
            _job = job;
            _stop = stop;
            _claim = claim;
            _publisher = new StageEventPublisher(job.RunId, job.Stage, job.Attempt, job.TraceParent, runner._events, runner._logger, runner._time, runner.OnEvent);
            _workDir = Path.Combine(runner._options.WorkRoot, job.RunId, job.Stage, $"attempt-{job.Attempt}");
            _steps = new JobTelemetry.Steps(job, runner._time);
            (_progressEvery, _checkpointEvery) = Intervals(job);
        }

        private IArtifactStore Store => _runner._store;
        private ILogger Logger => _runner._logger;
        private string Writer => $"{_claim.Host}/pid-{_claim.ProcessId}/attempt-{_job.Attempt}";

        public async Task<JobOutcome> RunAsync(CancellationToken ct)
        {
            await using var heartbeat = _publisher.StartHeartbeat(_runner._options.HeartbeatInterval, ct); // liveness while claimed
            try
            {
                return await RunStagesAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Logger.LogWarning("job {MessageId} aborted hard; nothing saved or published after step checkpoint {Step}",
                    _job.MessageId, _lastCheckpoint?.Step ?? 0);
                throw;
            }
            catch (StageStoppedException e)
            {
                return await CancelledAsync(e.Message, e.Checkpoint ?? _lastCheckpoint);
            }
            catch (OperationCanceledException) when (_stop.IsRequested)
            {
                return await CancelledAsync($"{_stop.Detail}; stopped before a checkpoint was due", _lastCheckpoint);
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
                await PublishFailureAsync(failure, _lastCheckpoint);
                return new JobOutcome(failure.Retryable ? JobExitCode.FailedRetryable : JobExitCode.FailedPermanent,
                    failure.Message, _job, Failure: failure);
            }
        }

        private async Task<JobOutcome> RunStagesAsync(CancellationToken ct)
        {
            await _publisher.AcceptedAsync($"claimed by {_claim.Host} (pid {_claim.ProcessId})", ct);

            // A stage that already completed (its completed event was lost, so a new attempt came) is not trained again.
            var previous = await Store.ReadTextAsync(JobBlobs.StageResult(_job.RunId, _job.Stage), ct);
            if (previous is not null)
            {
                var result = RmtJson.Parse<StageResult>(previous, JobBlobs.StageResult(_job.RunId, _job.Stage));
                var note = "this stage already completed in an earlier attempt; republishing its result without training";
                Logger.LogInformation("{Note}", note);
                await _publisher.CompletedAsync(result, note, ct);
                return new JobOutcome(JobExitCode.Done, note, _job, result);
            }
            await CheckCancelMarkerAsync(ct);

            var executor = _runner._executors.For(_job.Kind);
            _totalSteps = executor.TotalSteps(_job);
            if (Directory.Exists(_workDir)) Directory.Delete(_workDir, recursive: true);
            Directory.CreateDirectory(_workDir);

            // Inputs: dataset(s), base checkpoint, resume point. Missing or corrupted inputs are the job's fault.
            var inputs = new StageInputs(Store, Logger);
            using var downloads = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token); // a stop or an abort ends a long download
            var inputDir = Path.Combine(_workDir, "inputs");
            string? datasetPath = null, evalDatasetPath = null, baseDir = null;
            if (_job.Dataset is not null)
            {
                var dataset = await inputs.DownloadDatasetAsync(_job.Dataset, Path.Combine(inputDir, "dataset"), "dataset", downloads.Token);
                await inputs.PinDatasetAsync(_job.RunId, dataset, "dataset", downloads.Token);
                _datasets.Add(dataset);
                datasetPath = dataset.LocalPath;
            }
            if (_job.EvalDataset is not null)
            {
                var dataset = await inputs.DownloadDatasetAsync(_job.EvalDataset, Path.Combine(inputDir, "eval-dataset"), "evalDataset", downloads.Token);
                await inputs.PinDatasetAsync(_job.RunId, dataset, "evalDataset", downloads.Token);
                _datasets.Add(dataset);
                evalDatasetPath = dataset.LocalPath;
            }
            if (_job.BaseCheckpoint is not null)
            {
                baseDir = Path.Combine(inputDir, "base-checkpoint");
                await inputs.DownloadBaseCheckpointAsync(_job.BaseCheckpoint, baseDir, downloads.Token);
            }
            _phase = FailureClassifier.Phase.Training; // our own checkpoints failing is not the job's fault
            var search = await inputs.FindResumePointAsync(_job, Path.Combine(_workDir, "resume"), downloads.Token);
            var resumeNote = search.Describe();
            _lastCheckpoint = search.Resume?.Checkpoint;
            Logger.LogInformation("job {MessageId}: {Note}; {Total} steps in all", _job.MessageId, resumeNote, _totalSteps);
            await _publisher.StartedAsync(resumeNote, new StageProgress(search.Resume?.Checkpoint.Step ?? 0, _totalSteps), ct);

            // The stage, with the cancel marker watched in the background.
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var watcher = WatchCancelMarkerAsync(watch.Token);
            StageOutcome outcome;
            try
            {
                var context = new StageContext(_job, _workDir, datasetPath, evalDatasetPath, baseDir, search.Resume, _totalSteps,
                    _stop, Logger, _runner._options.Device, _steps.Around(AfterStepAsync), _steps.Around(ReportAsync), FinalCheckpointAsync);
                _steps.Begin();
                outcome = await executor.RunAsync(context, ct);
                _precision = context.Precision;
            }
            finally
            {
                await watch.CancelAsync();
                await watcher;
            }

            // Outputs: final checkpoint, plots, report, result.
            _phase = FailureClassifier.Phase.Outputs;
            if (outcome.HasCheckpoint && _lastCheckpoint?.Step != outcome.FinalStep)
                throw new InvalidOperationException(
                    $"the stage ended at step {outcome.FinalStep} but its newest checkpoint is step {_lastCheckpoint?.Step.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}; " +
                    "the executor must call SaveFinalCheckpointAsync, or that step's checkpoint could not be written");
            var finalCheckpoint = outcome.HasCheckpoint ? _lastCheckpoint : null;
            var completed = await PublishArtifactsAsync(outcome, finalCheckpoint, resumeNote, ct);
            var message = $"completed at step {outcome.FinalStep} ({resumeNote})";
            await _publisher.CompletedAsync(completed, message, ct);
            Logger.LogInformation("job {MessageId} {Message}; report {Report}", _job.MessageId, message, completed.ReportUri);
            if (!_runner._options.KeepWorkDir) TryDelete(_workDir);
            return new JobOutcome(JobExitCode.Done, message, _job, completed, ResumedFromStep: search.Resume?.Checkpoint.Step);
        }

        private async Task AfterStepAsync(StepMetrics metrics, CheckpointWriter write, CancellationToken ct)
        {
            await ReportProgressAsync(metrics, ct);
            if (metrics.Step % _checkpointEvery == 0 && _lastCheckpoint?.Step != metrics.Step)
                await SaveCheckpointAsync(metrics.Step, write, ct);
            if (_stop.IsRequested)
            {
                if (_stop.Reason == StopReason.Superseded)
                    throw new StageStoppedException($"{_stop.Detail}; stopped at step {metrics.Step} without saving a checkpoint");
                if (_lastCheckpoint?.Step != metrics.Step)
                    await SaveCheckpointAsync(metrics.Step, write, ct);
                throw new StageStoppedException($"{_stop.Detail}; saved a checkpoint at step {metrics.Step}") { Checkpoint = _lastCheckpoint };
            }
            ct.ThrowIfCancellationRequested();
        }

        private async Task FinalCheckpointAsync(long step, CheckpointWriter write, CancellationToken ct)
        {
            if (_lastCheckpoint?.Step != step) await SaveCheckpointAsync(step, write, ct);
        }

        private async Task ReportAsync(StepMetrics metrics, CancellationToken ct)
        {
            await ReportProgressAsync(metrics, ct);
            if (_stop.IsRequested)
                throw new StageStoppedException($"{_stop.Detail}; stopped at step {metrics.Step} of {_totalSteps}");
            ct.ThrowIfCancellationRequested();
        }

        private async Task ReportProgressAsync(StepMetrics metrics, CancellationToken ct)
        {
            if (metrics.Step % _progressEvery != 0 && metrics.Step != _totalSteps) return;
            var progress = metrics.ToProgress(_totalSteps);
            Logger.LogDebug("{Stage} step {Step}/{Total}{Loss}{Reward}{Accuracy}{Speed}", _job.Stage, metrics.Step, _totalSteps,
                metrics.Loss is { } l ? $" loss {l:F4}" : "", metrics.Reward is { } r ? $" reward {r:F3}" : "",
                metrics.Accuracy is { } a ? $" accuracy {a:F3}" : "", metrics.TokensPerSecond is { } t ? $" {t:F0} tok/s" : "");
            var line = new MetricsLine(metrics.Step, _totalSteps, _job.Attempt, _runner._time.GetUtcNow(), metrics.Loss, metrics.Reward,
                metrics.Accuracy, metrics.Budget, metrics.ReasoningLength, metrics.TokensPerSecond);
            try
            {
                await Store.AppendLinesAsync(BlobLayout.StageMetrics(_job.RunId, _job.Stage), [JobsJson.Serialize(line)], ct);
            }
            catch (Exception e) when (FailureClassifier.IsInfrastructure(e) && !ct.IsCancellationRequested)
            {
                Logger.LogWarning("metrics line of step {Step} was not appended ({Error}); training goes on", metrics.Step, e.Message);
            }
            await _publisher.ProgressAsync(progress, ct);
        }

        private async Task SaveCheckpointAsync(long step, CheckpointWriter write, CancellationToken ct)
        {
            // A superseded attempt must not publish a checkpoint its successor could resume from or race.
            if (await CheckStopMarkerAsync(ct))
                throw new StageStoppedException($"{_stop.Detail}; stopped at step {step} without saving a checkpoint");
            using var span = JobTelemetry.StartCheckpoint(_job, step);
            var local = Path.Combine(_workDir, "checkpoints", $"step-{step}");
            if (Directory.Exists(local)) Directory.Delete(local, recursive: true);
            Directory.CreateDirectory(local);
            write(local);
            await File.WriteAllTextAsync(Path.Combine(local, JobBlobs.JobFileName), RmtJson.Serialize(_job, indented: true), ct);
            var path = BlobLayout.Checkpoint(_job.RunId, _job.Stage, step);
            var manifest = await Store.UploadCheckpointAsync(path, local, Writer, ct);
            if (!await SameFilesAsync(manifest, local, ct) && !await ExistingCheckpointVerifiesAsync(path, step, manifest, ct))
                manifest = await Store.ReplaceCorruptCheckpointAsync(path, local, manifest, Writer, ct);
            _lastCheckpoint = new CheckpointRef(path, step);
            Logger.LogInformation("checkpoint step {Step} uploaded to {Path} ({Files} files)", step, path, manifest.Files.Count);
            await _publisher.CheckpointSavedAsync(_lastCheckpoint, ct);
            if (_lastLocalCheckpoint is not null && _lastLocalCheckpoint != local) TryDelete(_lastLocalCheckpoint);
            _lastLocalCheckpoint = local;
        }

        /// <summary>Whether the committed manifest lists exactly the files of <paramref name="local"/>.
        /// Not so when an earlier attempt already committed this step (checkpoints are never overwritten).</summary>
        private static async Task<bool> SameFilesAsync(CheckpointManifest manifest, string local, CancellationToken ct)
        {
            var files = Directory.GetFiles(local, "*", SearchOption.AllDirectories);
            if (files.Length != manifest.Files.Count) return false;
            var expected = manifest.Files.ToDictionary(f => f.Path, f => f.Sha256, StringComparer.Ordinal);
            foreach (var file in files)
            {
                var relative = Path.GetRelativePath(local, file).Replace('\\', '/');
                if (!expected.TryGetValue(relative, out var sha)) return false;
                await using var stream = File.OpenRead(file);
                var actual = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream, ct));
                if (!string.Equals(actual, sha, StringComparison.OrdinalIgnoreCase)) return false;
            }
            return true;
        }

        /// <summary>An earlier attempt committed this step first. Keep its checkpoint if it verifies; if it
        /// is corrupted (the reason this attempt fell back past it), the caller replaces it, so the step,
        /// often the stage's final one, is usable again.</summary>
        private async Task<bool> ExistingCheckpointVerifiesAsync(string path, long step, CheckpointManifest existing, CancellationToken ct)
        {
            var probe = Path.Combine(_workDir, "checkpoints", $"existing-step-{step}");
            try
            {
                await Store.DownloadCheckpointAsync(path, probe, ct);
                Logger.LogInformation("checkpoint step {Step} already existed at {Path} (writer {Writer}) and verifies; keeping it", step, path, existing.Writer);
                return true;
            }
            catch (ArtifactException e)
            {
                Logger.LogWarning("checkpoint step {Step} at {Path} was committed earlier by writer {Writer} and is corrupted; replacing it with this attempt's copy ({Error})",
                    step, path, existing.Writer, e.Message);
                return false;
            }
            finally
            {
                TryDelete(probe);
            }
        }

        private async Task<StageResult> PublishArtifactsAsync(StageOutcome outcome, CheckpointRef? checkpoint, string resumeNote, CancellationToken ct)
        {
            var metricsPath = BlobLayout.StageMetrics(_job.RunId, _job.Stage);
            var history = StageReport.Deduplicate(((await Store.ReadAppendLogAsync(metricsPath, ct)) ?? "")
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(JobsJson.TryParse<MetricsLine>)
                .OfType<MetricsLine>());
            var plots = new List<string>();
            var progressPlots = MetricsPlots.Write(history, Path.Combine(_workDir, "plots"), $"{_job.RunId}/{_job.Stage}");
            foreach (var plot in outcome.Plots.Concat(progressPlots))
            {
                await Store.UploadFileAsync(JobBlobs.Plot(_job.RunId, _job.Stage, Path.GetFileName(plot)), plot, ct);
                plots.Add(plot);
            }
            var report = StageReport.Build(new StageReportInput(_job, resumeNote, _datasets, history, outcome, checkpoint,
                checkpoint?.Uri, plots, _clock.Elapsed, Writer, _precision?.ToString()));
            var reportPath = BlobLayout.StageReport(_job.RunId, _job.Stage);
            await Store.WriteTextAsync(reportPath, report, ct);
            var result = new StageResult(checkpoint, reportPath, history.Count > 0 ? metricsPath : null,
                new Dictionary<string, double>(outcome.Metrics));
            await Store.WriteTextAsync(JobBlobs.StageResult(_job.RunId, _job.Stage), RmtJson.Serialize(result, indented: true), ct);
            return result;
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

        /// <summary>The run's cancel marker and this attempt's stop marker; either requests a stop.</summary>
        private async Task CheckCancelMarkerAsync(CancellationToken ct)
        {
            var marker = BlobLayout.CancelMarker(_job.RunId);
            var text = await Store.ReadTextAsync(marker, ct);
            if (text is not null)
                _stop.Request(StopReason.UserCancel, $"the run was cancelled ({marker}{(string.IsNullOrWhiteSpace(text) ? "" : ": " + text.Trim())})");
            await CheckStopMarkerAsync(ct);
            _stop.Token.ThrowIfCancellationRequested();
        }

        /// <summary>Whether the orchestration gave this attempt up (requests a Superseded stop if so).</summary>
        private async Task<bool> CheckStopMarkerAsync(CancellationToken ct)
        {
            var marker = BlobLayout.AttemptStopMarker(_job.RunId, _job.Stage, _job.Attempt);
            var text = await Store.ReadTextAsync(marker, ct);
            if (text is null) return false;
            _stop.Request(StopReason.Superseded, $"the orchestration gave attempt {_job.Attempt} up ({marker}: {text.Trim()})");
            return _stop.Reason == StopReason.Superseded;
        }

        private async Task WatchCancelMarkerAsync(CancellationToken ct)
        {
            try
            {
                while (!_stop.IsRequested)
                {
                    await Task.Delay(_runner._options.CancelPollInterval, _runner._time, ct);
                    try
                    {
                        await CheckCancelMarkerAsync(ct);
                    }
                    catch (OperationCanceledException)
                    {
                        throw;
                    }
                    catch (Exception e)
                    {
                        Logger.LogWarning("could not check the cancel marker ({Error}); trying again", FailureClassifier.Describe(e));
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // the stage ended, or a stop was requested: either way the watch is over
            }
        }

        private void TryDelete(string dir)
        {
            try
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
            catch (IOException e)
            {
                Logger.LogDebug("could not delete {Dir}: {Error}", dir, e.Message);
            }
        }
    }
}

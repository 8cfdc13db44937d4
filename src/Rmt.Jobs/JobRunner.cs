using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Jobs.Attempts;

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
/// saved or published; the next attempt resumes from the last uploaded checkpoint. This class takes,
/// claims and settles; a claimed attempt runs in <see cref="JobAttempt"/> and its pieces (Attempts/).
/// The container job, the local child process and `train`/`eval` (<see cref="FolderJob"/>) all run here.</summary>
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

        var services = new AttemptServices(_store, _events, _executors, _options, _logger, _time, OnEvent);
        return await new JobAttempt(services, job, stop, claim).RunAsync(ct);
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
}

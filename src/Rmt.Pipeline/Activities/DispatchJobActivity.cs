using System.Diagnostics;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Sends one try of a stage job to the job queue, idempotently. Each attempt number of a stage
/// is reserved once by a dispatch record (runs/{runId}/{stage}/dispatch/attempt-{n}.json holding the
/// try's dispatch id), created before the message is sent:
/// - a retried activity finds its own record and sends the same attempt again (the message id
///   {runId}/{stage}/{attempt} and the trainer's claim in Blob make the second delivery harmless);
/// - a resubmitted run id finds the earlier run's records and takes the next free attempt number, so its
///   job is not mistaken for the old one by the claim, and resumes from the stage's newest checkpoint.</summary>
public sealed class DispatchJobActivity(IArtifactStore store, IJobQueue queue, ILogger<DispatchJobActivity> log)
    : TaskActivity<DispatchInput, DispatchResult>
{
    /// <summary>Attempt numbers a stage may use over all submissions of a run (the job contract's limit).</summary>
    public const int MaxAttemptNumber = 1000;

    public override async Task<DispatchResult> RunAsync(TaskActivityContext context, DispatchInput input)
    {
        var job = input.Job;
        using var span = PipelineTelemetry.Start("rmt.pipeline.dispatch", job.TraceParent, ActivityKind.Producer, job.RunId);
        span?.SetTag("rmt.stage", job.Stage);
        job.Validate();

        for (var attempt = job.Attempt; attempt <= MaxAttemptNumber; attempt++)
        {
            var record = PipelineBlobs.DispatchRecord(job.RunId, job.Stage, attempt);
            var mine = await store.TryCreateTextAsync(record, input.DispatchId);
            if (!mine && (await store.ReadTextAsync(record))?.Trim() != input.DispatchId)
                continue; // an earlier submission of this run used this attempt number

            var attemptJob = job with { Attempt = attempt };
            await queue.SendAsync(attemptJob);
            span?.SetTag("rmt.attempt", attempt);
            log.LogInformation("Job {MessageId} ({Kind}) {Action}, base checkpoint {Base}", attemptJob.MessageId, job.Kind.ToName(),
                mine ? "dispatched" : "sent again by a retried dispatch", job.BaseCheckpoint ?? "(none)");
            return new DispatchResult(attemptJob.MessageId, attempt, Sent: true);
        }
        throw new InvalidOperationException(
            $"stage '{job.Stage}' of run '{job.RunId}' has used all {MaxAttemptNumber} attempt numbers; submit the pipeline with a new runId");
    }
}

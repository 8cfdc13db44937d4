using System.Diagnostics;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Sends one attempt of a stage job to the job queue. Idempotent: the message id is
/// {runId}/{stage}/{attempt} (Service Bus drops duplicates; the trainer's claim in Blob stops a second
/// Storage-queue delivery), and a dispatch record makes a retried activity skip the send.</summary>
public sealed class DispatchJobActivity(IArtifactStore store, IJobQueue queue, ILogger<DispatchJobActivity> log)
    : TaskActivity<StageJob, DispatchResult>
{
    public override async Task<DispatchResult> RunAsync(TaskActivityContext context, StageJob job)
    {
        using var span = PipelineTelemetry.Start("rmt.pipeline.dispatch", job.TraceParent, ActivityKind.Producer, job.RunId);
        span?.SetTag("rmt.stage", job.Stage);
        span?.SetTag("rmt.attempt", job.Attempt);
        job.Validate();

        var record = PipelineBlobs.DispatchRecord(job.RunId, job.Stage, job.Attempt);
        if (await store.ExistsAsync(record))
        {
            log.LogInformation("Job {MessageId} was already dispatched; not sending it again", job.MessageId);
            return new DispatchResult(job.MessageId, Sent: false);
        }

        await queue.SendAsync(job);
        await store.TryCreateTextAsync(record, RmtJson.Serialize(job, indented: true));
        log.LogInformation("Job {MessageId} ({Kind}) dispatched, base checkpoint {Base}", job.MessageId, job.Kind.ToName(), job.BaseCheckpoint ?? "(none)");
        return new DispatchResult(job.MessageId, Sent: true);
    }
}

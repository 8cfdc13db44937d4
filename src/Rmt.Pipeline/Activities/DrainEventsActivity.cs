using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Takes the run's pending stage events off the event stream, appending every one of them to
/// runs/{runId}/events.jsonl before the transport forgets them, and returns those of the asked stage
/// (the fold filters attempts and duplicates). Also reports whether the run's cancel marker exists.</summary>
public sealed class DrainEventsActivity(IArtifactStore store, IStageEventStream events, ILogger<DrainEventsActivity> log)
    : TaskActivity<DrainInput, DrainResult>
{
    /// <summary>Events per drain: keeps the activity short and its result far below payload limits.</summary>
    public const int MaxEventsPerDrain = 256;

    public override async Task<DrainResult> RunAsync(TaskActivityContext context, DrainInput input)
    {
        using var span = PipelineTelemetry.Start("rmt.pipeline.drain", input.TraceParent, runId: input.RunId);
        var eventsLog = BlobLayout.RunEvents(input.RunId);
        var drained = await events.DrainAsync(
            input.RunId,
            async batch =>
            {
                if (batch.Count > 0)
                    await store.AppendLinesAsync(eventsLog, batch.Select(e => RmtJson.Serialize(e)).ToList());
            },
            MaxEventsPerDrain);

        var ofStage = drained.Where(e => e.Stage == input.Stage).ToList();
        if (drained.Count > ofStage.Count)
            log.LogInformation("Run {RunId}: {Count} events of other stages drained while monitoring {Stage} (kept in {Log})",
                input.RunId, drained.Count - ofStage.Count, input.Stage, eventsLog);
        var cancelRequested = await store.ExistsAsync(BlobLayout.CancelMarker(input.RunId));
        span?.SetTag("rmt.events", drained.Count);
        return new DrainResult(ofStage, drained.Count, cancelRequested);
    }
}

using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Writes the stop marker of one attempt (runs/{runId}/{stage}/stops/attempt-{n}.txt, once; a
/// second write keeps the first). The orchestration writes it for every attempt it gives up: one that
/// timed out before the next is dispatched, and the last one of a stage that ends failed or cancelled.
/// A job of that attempt, whether still running or still waiting in the queue, sees it and stops
/// without training further or saving a checkpoint, so a superseded attempt never races its successor.</summary>
public sealed class StopAttemptActivity(IArtifactStore store, ILogger<StopAttemptActivity> log)
    : TaskActivity<StopAttemptInput, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, StopAttemptInput input)
    {
        using var span = PipelineTelemetry.Start("rmt.pipeline.stop-attempt", input.TraceParent, runId: input.RunId);
        var marker = BlobLayout.AttemptStopMarker(input.RunId, input.Stage, input.Attempt);
        var created = await store.TryCreateTextAsync(marker, input.Reason);
        log.LogInformation("Run {RunId} stage {Stage}: attempt {Attempt} stop marker {Marker} {State}",
            input.RunId, input.Stage, input.Attempt, marker, created ? "written" : "already present");
        return created;
    }
}

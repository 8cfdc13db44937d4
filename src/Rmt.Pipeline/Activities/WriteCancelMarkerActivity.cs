using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Writes runs/{runId}/cancel (once; a second write keeps the first). A running job checks for
/// it, saves a checkpoint and stops; a job that has not started yet sees it and does not start.</summary>
public sealed class WriteCancelMarkerActivity(IArtifactStore store, ILogger<WriteCancelMarkerActivity> log)
    : TaskActivity<CancelMarkerInput, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, CancelMarkerInput input)
    {
        using var span = PipelineTelemetry.Start("rmt.pipeline.cancel", input.TraceParent, runId: input.RunId);
        var marker = BlobLayout.CancelMarker(input.RunId);
        var created = await store.TryCreateTextAsync(marker, input.Reason ?? "cancel requested");
        log.LogInformation("Run {RunId}: cancel marker {Marker} {State}", input.RunId, marker, created ? "written" : "already present");
        return created;
    }
}

using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Validates the request and records it as runs/{runId}/request.json (idempotent: the same
/// request writes the same text). An invalid request is a result, not an exception, so the run ends
/// with the validation message as its reason. A run id whose run was cancelled cannot be reused: its
/// cancel marker would stop every new job at once. Nor can a run id be reused for another request: its
/// checkpoints, claims and pinned datasets belong to the first one (the same request resumes it).</summary>
public sealed class ValidateRequestActivity(IArtifactStore store, ILogger<ValidateRequestActivity> log)
    : TaskActivity<ValidateRequestInput, ValidateRequestResult>
{
    public override async Task<ValidateRequestResult> RunAsync(TaskActivityContext context, ValidateRequestInput input)
    {
        using var span = PipelineTelemetry.Start("rmt.pipeline.validate", input.TraceParent, runId: input.RunId);
        var uri = BlobLayout.RunRequest(input.RunId);
        try
        {
            Validation.Id(input.RunId, "runId");
            input.Request.Validate();
            if (input.Request.RunId is { } asked && asked != input.RunId)
                throw new ContractException($"runId '{asked}' differs from the orchestration's run id '{input.RunId}'; leave runId out or use the same one");
        }
        catch (ContractException e)
        {
            log.LogWarning("Run {RunId}: invalid request: {Error}", input.RunId, e.Message);
            return new ValidateRequestResult(false, e.Message, uri);
        }
        var marker = BlobLayout.CancelMarker(input.RunId);
        if (await store.ExistsAsync(marker))
            return new ValidateRequestResult(false,
                $"runId '{input.RunId}' belongs to a cancelled run ({marker} exists); submit with a new runId", uri);

        var text = RmtJson.Serialize(input.Request with { RunId = input.RunId }, indented: true);
        if (!await store.TryCreateTextAsync(uri, text))
        {
            var recorded = await store.ReadTextAsync(uri);
            if (recorded is not null && RmtJson.DifferingFields(recorded, text) is { Count: > 0 } fields)
                return new ValidateRequestResult(false,
                    $"runId '{input.RunId}' was first submitted with another request ({string.Join(", ", fields)} differ, see {uri}); " +
                    "resubmit the same request to resume it, or use a new runId", uri);
        }
        log.LogInformation("Run {RunId}: request recorded at {Uri}", input.RunId, uri);
        return new ValidateRequestResult(true, null, uri);
    }
}

using System.Diagnostics;
using System.Globalization;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;

namespace Rmt.Pipeline.Http;

/// <summary>The HTTP API of RMT as plain methods over a <see cref="DurableTaskClient"/>, shared by the
/// Functions app and the local host (both only copy the <see cref="HandlerResult"/> onto a response):
///   POST /api/pipelines              -> <see cref="SubmitAsync(string, string, CancellationToken)"/> (202, 400, 409)
///   GET  /api/pipelines/{id}         -> <see cref="GetStatusAsync"/> (200, 404)
///   GET  /api/pipelines?status=&top= -> <see cref="ListAsync"/> (200, 400)
///   POST /api/pipelines/{id}/cancel  -> <see cref="CancelAsync"/> (202, 404, 409)
/// and the timer's <see cref="SubmitScheduledAsync"/>.</summary>
public sealed class PipelineHandlers(DurableTaskClient client, ILogger<PipelineHandlers>? log = null, Func<PipelineRequest, MonitorSettings>? monitor = null)
{
    /// <summary>Prefix of the run ids the schedule starts; a scheduled run is skipped while one of these runs.</summary>
    public const string ScheduledRunPrefix = "sched-";

    /// <summary>The largest request body accepted: a pipeline request is a few kilobytes.</summary>
    public const int MaxRequestBodyBytes = 64 * 1024;

    /// <summary>Reads a request body, at most <see cref="MaxRequestBodyBytes"/> of it; null when it is
    /// longer (answer <see cref="BodyTooLarge"/>). Never buffers more than the bound.</summary>
    public static async Task<string?> ReadBodyAsync(Stream body, CancellationToken ct)
    {
        var buffer = new byte[MaxRequestBodyBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(length), ct)) > 0)
            length += read;
        return length > MaxRequestBodyBytes ? null : System.Text.Encoding.UTF8.GetString(buffer, 0, length);
    }

    public static HandlerResult BodyTooLarge() => HandlerResult.Problem(413, "The request body is too large",
        $"the body is longer than {MaxRequestBodyBytes} bytes; a pipeline request is a few kilobytes (datasets are blob paths, not content)", "body");

    public static readonly IReadOnlyList<string> StatusNames = ["pending", "running", "completed", "failed", "cancelled", "terminated", "suspended"];

    private readonly ILogger _log = log ?? NullLogger<PipelineHandlers>.Instance;
    private readonly Func<PipelineRequest, MonitorSettings> _monitor = monitor ?? (r => MonitorSettings.From(r.Options));

    /// <summary>POST /api/pipelines. <paramref name="apiBase"/> is the API root the caller used
    /// (e.g. "http://localhost:7071/api"); the status and cancel URIs are built from it.</summary>
    public async Task<HandlerResult> SubmitAsync(string body, string apiBase, CancellationToken ct = default)
    {
        PipelineRequest request;
        try
        {
            request = RmtJson.ParseRequest(body, "pipeline request");
        }
        catch (ContractException e)
        {
            return HandlerResult.Problem(400, "The pipeline request is invalid", e.Message, FieldOf(e.Message));
        }
        return await SubmitAsync(request, apiBase, ct);
    }

    /// <summary>Submits an already parsed request (local host demo, tests). Validates it first.</summary>
    public async Task<HandlerResult> SubmitAsync(PipelineRequest request, string apiBase, CancellationToken ct = default)
    {
        try
        {
            request.Validate();
        }
        catch (ContractException e)
        {
            return HandlerResult.Problem(400, "The pipeline request is invalid", $"pipeline request: {e.Message}", FieldOf(e.Message));
        }

        using var span = PipelineTelemetry.Source.StartActivity("rmt.pipeline.submit", ActivityKind.Server);
        // Every run gets a trace: the caller's, or a new one started here when nothing traces the call.
        using var minted = PipelineTelemetry.CurrentTraceParent() is null ? new Activity("rmt.pipeline.submit").Start() : null;
        var traceParent = PipelineTelemetry.CurrentTraceParent();

        var runId = request.RunId ?? NewRunId(DateTime.UtcNow);
        var existing = await client.GetInstanceAsync(runId, getInputsAndOutputs: true, ct);
        if (existing is not null && IsActive(existing.RuntimeStatus))
            return HandlerResult.Problem(409, "The run is still going",
                $"run '{runId}' is {Name(existing.RuntimeStatus)}; cancel it first or submit with another runId", "runId", RunUri(apiBase, runId));
        // A finished run id may be resubmitted to resume it, with the same request only: its checkpoints,
        // claims and pinned datasets belong to that request. (ValidateRequestActivity checks request.json too.)
        if (existing?.Name == PipelineNames.PipelineOrchestrator && existing.ReadInputAs<PipelineInput>()?.Request is { } earlier
            && RmtJson.DifferingFields(RmtJson.Serialize(earlier), RmtJson.Serialize(request with { RunId = runId })) is { Count: > 0 } fields)
            return HandlerResult.Problem(409, "The run id belongs to another request",
                $"run '{runId}' was submitted with another request ({string.Join(", ", fields)} differ); resubmit the same request to resume it, or use a new runId",
                "runId", RunUri(apiBase, runId));

        var input = new PipelineInput(runId, request with { RunId = runId }, _monitor(request), traceParent);
        await client.ScheduleNewOrchestrationInstanceAsync(PipelineNames.PipelineOrchestrator, input, new StartOrchestrationOptions(runId), ct);
        span?.SetTag("rmt.run_id", runId);
        _log.LogInformation("Run {RunId} submitted (trace {TraceId})", runId, PipelineTelemetry.TraceIdOf(traceParent));

        var statusUri = RunUri(apiBase, runId);
        return HandlerResult.Ok(202,
            new SubmitAccepted(runId, runId, statusUri, statusUri + "/cancel", BlobLayout.RunReport(runId), traceParent),
            new Dictionary<string, string> { ["Location"] = statusUri, ["Retry-After"] = "10" });
    }

    /// <summary>GET /api/pipelines/{id}: status, current stage and attempt, latest progress, artifacts.</summary>
    public async Task<HandlerResult> GetStatusAsync(string id, CancellationToken ct = default)
    {
        if (!Validation.IsId(id))
            return HandlerResult.Problem(400, "Invalid run id", $"id '{id}' is not a run id; use 1-40 lower-case letters, digits and dashes", "id");
        var metadata = await client.GetInstanceAsync(id, getInputsAndOutputs: true, ct);
        if (metadata is null || metadata.Name != PipelineNames.PipelineOrchestrator)
            return HandlerResult.Problem(404, "No such run", $"no pipeline run with id '{id}'", "id");
        return HandlerResult.Ok(200, await ViewAsync(metadata, withStageProgress: true, ct));
    }

    /// <summary>GET /api/pipelines?status=running&amp;top=50&amp;continuationToken=...</summary>
    public async Task<HandlerResult> ListAsync(string? status = null, int? top = null, string? continuationToken = null, CancellationToken ct = default)
    {
        if (status is not null && !StatusNames.Contains(status))
            return HandlerResult.Problem(400, "Invalid status filter",
                $"status '{status}' is not known; use one of {string.Join(", ", StatusNames)}", "status");
        var pageSize = top ?? 50;
        if (pageSize is < 1 or > 1000)
            return HandlerResult.Problem(400, "Invalid page size", $"top is {pageSize}; it must be between 1 and 1000", "top");

        var query = new OrchestrationQuery
        {
            Statuses = status is null ? null : [RuntimeStatusOf(status)],
            PageSize = pageSize,
            FetchInputsAndOutputs = true,
            ContinuationToken = continuationToken,
        };
        var items = new List<PipelineStatusView>();
        string? next = null;
        await foreach (var page in client.GetAllInstancesAsync(query).AsPages(continuationToken, pageSize).WithCancellation(ct))
        {
            foreach (var m in page.Values.Where(m => m.Name == PipelineNames.PipelineOrchestrator))
            {
                var view = await ViewAsync(m, withStageProgress: false, ct);
                if (status is null || view.Status == status) items.Add(view);
            }
            next = page.ContinuationToken;
            break; // one page per call; the caller follows continuationToken
        }
        return HandlerResult.Ok(200, new PipelineList(items.OrderByDescending(i => i.CreatedAt).ToList(), string.IsNullOrEmpty(next) ? null : next));
    }

    /// <summary>POST /api/pipelines/{id}/cancel: the running stage writes the cancel marker (the job stops
    /// at its next check) and the run ends as cancelled after writing its report.</summary>
    public async Task<HandlerResult> CancelAsync(string id, string? reason = null, CancellationToken ct = default)
    {
        if (!Validation.IsId(id))
            return HandlerResult.Problem(400, "Invalid run id", $"id '{id}' is not a run id; use 1-40 lower-case letters, digits and dashes", "id");
        var metadata = await client.GetInstanceAsync(id, getInputsAndOutputs: false, ct);
        if (metadata is null || metadata.Name != PipelineNames.PipelineOrchestrator)
            return HandlerResult.Problem(404, "No such run", $"no pipeline run with id '{id}'", "id");
        if (!IsActive(metadata.RuntimeStatus))
            return HandlerResult.Problem(409, "The run has ended", $"run '{id}' is {Name(metadata.RuntimeStatus)}; there is nothing to cancel", "id");

        var why = string.IsNullOrWhiteSpace(reason) ? "cancelled by request" : reason;
        await client.RaiseEventAsync(id, PipelineNames.CancelEvent, why, ct);
        _log.LogInformation("Run {RunId}: cancel requested ({Reason})", id, why);
        return HandlerResult.Ok(202, new CancelAccepted(id, "cancelling", why));
    }

    /// <summary>The timer trigger: submits the schedule's request template as run "sched-{time}", unless
    /// an earlier scheduled run is still going. An invalid template throws, naming the setting.</summary>
    public async Task<ScheduledSubmission> SubmitScheduledAsync(string requestTemplateJson, DateTime utcNow, CancellationToken ct = default)
    {
        PipelineRequest template;
        try
        {
            template = RmtJson.ParseRequest(requestTemplateJson, $"setting {RmtSettings.ScheduleRequest}");
        }
        catch (ContractException e)
        {
            throw new ContractException($"{e.Message}; fix the app setting {RmtSettings.ScheduleRequest}", e);
        }

        var running = new OrchestrationQuery
        {
            Statuses = [OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Suspended],
            InstanceIdPrefix = ScheduledRunPrefix,
        };
        await foreach (var m in client.GetAllInstancesAsync(running).WithCancellation(ct))
            if (m.Name == PipelineNames.PipelineOrchestrator)
                return new ScheduledSubmission(false, null, $"scheduled run '{m.InstanceId}' is still {Name(m.RuntimeStatus)}");

        var runId = ScheduledRunPrefix + utcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var result = await SubmitAsync(template with { RunId = runId }, "", ct);
        return result.StatusCode == 202
            ? new ScheduledSubmission(true, runId, null)
            : new ScheduledSubmission(false, null, result.Json);
    }

    private async Task<PipelineStatusView> ViewAsync(OrchestrationMetadata m, bool withStageProgress, CancellationToken ct)
    {
        var custom = ReadCustomStatus(m);
        PipelineOutput? output = null;
        if (m.RuntimeStatus == OrchestrationRuntimeStatus.Completed && m.SerializedOutput is not null)
            output = m.ReadOutputAs<PipelineOutput>();

        // While a stage runs, its own sub-orchestration holds the attempt and the latest progress.
        var stageStatus = custom;
        if (withStageProgress && m.IsRunning && custom?.StageInstanceId is { } stageId
            && await client.GetInstanceAsync(stageId, getInputsAndOutputs: true, ct) is { } stage
            && ReadCustomStatus(stage) is { } fromStage)
            stageStatus = fromStage;

        var status = m.RuntimeStatus == OrchestrationRuntimeStatus.Completed && output?.Status == Outcomes.Cancelled
            ? Outcomes.Cancelled
            : Name(m.RuntimeStatus);
        return new PipelineStatusView(
            m.InstanceId, status, m.RuntimeStatus.ToString(), m.CreatedAt, m.LastUpdatedAt,
            stageStatus?.Stage ?? custom?.Stage, stageStatus?.Attempt ?? 0, stageStatus?.Progress, stageStatus?.LatestCheckpoint,
            stageStatus?.Message ?? custom?.Message, PipelineArtifacts.Of(m.InstanceId), output, m.FailureDetails?.ErrorMessage);
    }

    private static PipelineCustomStatus? ReadCustomStatus(OrchestrationMetadata m) =>
        string.IsNullOrEmpty(m.SerializedCustomStatus) ? null : m.ReadCustomStatusAs<PipelineCustomStatus>();

    public static string NewRunId(DateTime utcNow) =>
        $"run-{utcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..6]}";

    private static string RunUri(string apiBase, string runId) => $"{apiBase.TrimEnd('/')}/pipelines/{runId}";

    private static bool IsActive(OrchestrationRuntimeStatus s) =>
        s is OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Suspended;

    private static string Name(OrchestrationRuntimeStatus s) => s switch
    {
        OrchestrationRuntimeStatus.Pending => "pending",
        OrchestrationRuntimeStatus.Running => "running",
        OrchestrationRuntimeStatus.Completed => "completed",
        OrchestrationRuntimeStatus.Failed => "failed",
        OrchestrationRuntimeStatus.Terminated => "terminated",
        OrchestrationRuntimeStatus.Suspended => "suspended",
        _ => s.ToString().ToLowerInvariant(),
    };

    private static OrchestrationRuntimeStatus RuntimeStatusOf(string status) => status switch
    {
        "pending" => OrchestrationRuntimeStatus.Pending,
        "running" => OrchestrationRuntimeStatus.Running,
        "completed" or "cancelled" => OrchestrationRuntimeStatus.Completed,
        "failed" => OrchestrationRuntimeStatus.Failed,
        "terminated" => OrchestrationRuntimeStatus.Terminated,
        _ => OrchestrationRuntimeStatus.Suspended,
    };

    /// <summary>The request field a contract message names: "unknown field 'x' at $.a.x" gives "a.x";
    /// "datasets.midTrain is missing" gives "datasets.midTrain".</summary>
    public static string? FieldOf(string message)
    {
        var at = message.IndexOf(" at $.", StringComparison.Ordinal);
        if (at >= 0)
        {
            var path = message[(at + " at $.".Length)..];
            var end = path.IndexOfAny([' ', ';', ')', ',']);
            return end >= 0 ? path[..end] : path;
        }
        var text = message.StartsWith("pipeline request: ", StringComparison.Ordinal) ? message["pipeline request: ".Length..] : message;
        // Contract messages start with the field: "options.maxAttempts is 0; ...", "datasets.midTrain 'x' is not ...".
        var words = text.Split(' ', 3);
        return words.Length >= 2 && (words[1] == "is" || words[1].StartsWith('\''))
               && words[0].Length > 0 && char.IsLower(words[0][0]) && words[0].All(c => char.IsLetterOrDigit(c) || c is '.' or '[' or ']')
            ? words[0]
            : null;
    }
}

using Rmt.Contracts;

namespace Rmt.Pipeline.Http;

/// <summary>One route of the HTTP API: what <see cref="PipelineHandlers"/> answers on it. The Functions
/// wrappers (function name = <see cref="Name"/>) and the local host map these routes, and the OpenAPI
/// document (/api/openapi.json locally, src/Rmt.Functions/openapi.json for the Functions app) is
/// generated from the local host's endpoints, which carry this metadata.</summary>
public sealed record PipelineRoute(
    string Name,
    string Method,
    string Template,
    string Summary,
    int SuccessStatus,
    Type SuccessBody,
    IReadOnlyList<int> ProblemStatuses,
    Type? RequestBody = null,
    IReadOnlyList<string>? Query = null)
{
    /// <summary>"/api/pipelines/{id}": the path as the OpenAPI document lists it.</summary>
    public string Path => $"{PipelineRoutes.Prefix}/{Template}";
}

/// <summary>Every route of the HTTP API, with its status codes. 4xx answers are always
/// <see cref="ProblemDetails"/> with content type application/problem+json.</summary>
public static class PipelineRoutes
{
    public const string Prefix = "/api";

    public static readonly PipelineRoute Submit = new(
        "SubmitPipeline", "POST", "pipelines", "Submit a pipeline run (mid-train, evaluate, post-train, evaluate)",
        202, typeof(SubmitAccepted), [400, 409, 413], RequestBody: typeof(PipelineRequest));

    public static readonly PipelineRoute Get = new(
        "GetPipeline", "GET", "pipelines/{id}", "Status of a run: stage, attempt, progress, latest checkpoint, artifacts",
        200, typeof(PipelineStatusView), [400, 404]);

    public static readonly PipelineRoute List = new(
        "ListPipelines", "GET", "pipelines", "List runs, newest first, optionally filtered by status",
        200, typeof(PipelineList), [400], Query: ["status", "top", "continuationToken"]);

    public static readonly PipelineRoute Cancel = new(
        "CancelPipeline", "POST", "pipelines/{id}/cancel", "Cancel a run: the running job stops and the run ends as cancelled",
        202, typeof(CancelAccepted), [400, 404, 409], Query: ["reason"]);

    public static readonly IReadOnlyList<PipelineRoute> All = [Submit, Get, List, Cancel];
}

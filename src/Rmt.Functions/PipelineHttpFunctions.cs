using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Rmt.Pipeline.Http;

namespace Rmt.Functions;

/// <summary>The HTTP API. Each function only reads the request and copies the shared handler's answer
/// (<see cref="PipelineHandlers"/>, the same code the local host serves) onto the response.
///   POST /api/pipelines                 202 + status URLs, or 400 problem details naming the field
///   GET  /api/pipelines/{id}            status, stage, attempt, progress, artifacts
///   GET  /api/pipelines?status=&amp;top=    list, filtered by status
///   POST /api/pipelines/{id}/cancel     202; the running job stops and the run ends as cancelled
/// Function keys guard the routes (AuthorizationLevel.Function).</summary>
public sealed class PipelineHttpFunctions(ILogger<PipelineHandlers> log)
{
    [Function("SubmitPipeline")]
    public async Task<IActionResult> SubmitAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "pipelines")] HttpRequest request,
        [DurableClient] DurableTaskClient client)
    {
        var body = await PipelineHandlers.ReadBodyAsync(request.Body, request.HttpContext.RequestAborted);
        if (body is null) return Respond(request, PipelineHandlers.BodyTooLarge());
        return Respond(request, await Handlers(client).SubmitAsync(body, ApiBase(request), request.HttpContext.RequestAborted));
    }

    [Function("GetPipeline")]
    public async Task<IActionResult> GetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "pipelines/{id}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string id) =>
        Respond(request, await Handlers(client).GetStatusAsync(id, request.HttpContext.RequestAborted));

    [Function("ListPipelines")]
    public async Task<IActionResult> ListAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "pipelines")] HttpRequest request,
        [DurableClient] DurableTaskClient client)
    {
        var query = request.Query;
        var top = query["top"].ToString();
        if (top.Length > 0 && !int.TryParse(top, out _))
            return Respond(request, HttpResults.BadTop(top));
        return Respond(request, await Handlers(client).ListAsync(
            HttpResults.NullIfEmpty(query["status"]), top.Length > 0 ? int.Parse(top) : null,
            HttpResults.NullIfEmpty(query["continuationToken"]), request.HttpContext.RequestAborted));
    }

    [Function("CancelPipeline")]
    public async Task<IActionResult> CancelAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "pipelines/{id}/cancel")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string id) =>
        Respond(request, await Handlers(client).CancelAsync(id, HttpResults.NullIfEmpty(request.Query["reason"]), request.HttpContext.RequestAborted));

    private PipelineHandlers Handlers(DurableTaskClient client) => new(client, log);

    /// <summary>"https://{host}/api": the status and cancel URIs are built from what the caller used.</summary>
    internal static string ApiBase(HttpRequest request) => $"{request.Scheme}://{request.Host}{request.PathBase}/api";

    internal static IActionResult Respond(HttpRequest request, HandlerResult result)
    {
        foreach (var (name, value) in result.Headers)
            request.HttpContext.Response.Headers[name] = value;
        return new ContentResult { StatusCode = result.StatusCode, Content = result.Json, ContentType = result.ContentType };
    }
}

/// <summary>Answers the wrappers build themselves (before a handler runs).</summary>
internal static class HttpResults
{
    public static HandlerResult BadTop(string top) => new(400,
        PipelineApiJson.Serialize(new Pipeline.Http.ProblemDetails(Pipeline.Http.ProblemDetails.TypeFor(400), "Invalid page size", 400, $"top '{top}' is not a number; use 1 to 1000", "top")),
        HandlerResult.ProblemContentType, new Dictionary<string, string>());

    public static string? NullIfEmpty(Microsoft.Extensions.Primitives.StringValues value) =>
        string.IsNullOrWhiteSpace(value.ToString()) ? null : value.ToString();
}

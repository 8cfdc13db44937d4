using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rmt.Pipeline.Http;

namespace Rmt.Local.Api;

/// <summary>The HTTP API of the Functions app on the local host: the same routes, the same handler
/// classes (<see cref="PipelineHandlers"/>), the same bodies and status codes.</summary>
public static class PipelineApi
{
    public const string RoutePrefix = "/api";

    public static IEndpointRouteBuilder MapPipelineApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup(RoutePrefix);
        api.AddEndpointFilter(CrossSiteGuard.FilterAsync);

        api.MapPost("/pipelines", async (HttpContext http, PipelineHandlers handlers) =>
        {
            var body = await PipelineHandlers.ReadBodyAsync(http.Request.Body, http.RequestAborted);
            await WriteAsync(http, body is null
                ? PipelineHandlers.BodyTooLarge()
                : await handlers.SubmitAsync(body, ApiBase(http.Request), http.RequestAborted));
        });

        api.MapGet("/pipelines/{id}", async (HttpContext http, string id, PipelineHandlers handlers) =>
            await WriteAsync(http, await handlers.GetStatusAsync(id, http.RequestAborted)));

        api.MapGet("/pipelines", async (HttpContext http, PipelineHandlers handlers) =>
        {
            var query = http.Request.Query;
            var top = query["top"].ToString();
            if (top.Length > 0 && !int.TryParse(top, out _))
            {
                var problem = new ProblemDetails(ProblemDetails.TypeFor(400), "Invalid page size", 400, $"top '{top}' is not a number; use 1 to 1000", "top");
                await WriteAsync(http, new HandlerResult(400, PipelineApiJson.Serialize(problem), HandlerResult.ProblemContentType, new Dictionary<string, string>()));
                return;
            }
            await WriteAsync(http, await handlers.ListAsync(
                NullIfEmpty(query["status"].ToString()), top.Length > 0 ? int.Parse(top) : null,
                NullIfEmpty(query["continuationToken"].ToString()), http.RequestAborted));
        });

        api.MapPost("/pipelines/{id}/cancel", async (HttpContext http, string id, PipelineHandlers handlers) =>
            await WriteAsync(http, await handlers.CancelAsync(id, NullIfEmpty(http.Request.Query["reason"].ToString()), http.RequestAborted)));

        api.MapGet("/health", () => Results.Text("ok"));
        return app;
    }

    /// <summary>"http://127.0.0.1:{port}/api", from the request as the caller sent it.</summary>
    public static string ApiBase(HttpRequest request) => $"{request.Scheme}://{request.Host}{request.PathBase}{RoutePrefix}";

    public static async Task WriteAsync(HttpContext http, HandlerResult result)
    {
        http.Response.StatusCode = result.StatusCode;
        foreach (var (name, value) in result.Headers)
            http.Response.Headers[name] = value;
        if (result.Json is null) return;
        http.Response.ContentType = result.ContentType;
        await http.Response.WriteAsync(result.Json, http.RequestAborted);
    }

    private static string? NullIfEmpty(string value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

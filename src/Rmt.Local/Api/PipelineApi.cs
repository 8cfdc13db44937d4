using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Rmt.Pipeline.Http;

namespace Rmt.Local.Api;

/// <summary>The HTTP API of the Functions app on the local host: the same routes, the same handler
/// classes (<see cref="PipelineHandlers"/>), the same bodies and status codes.</summary>
public static class PipelineApi
{
    public const string RoutePrefix = "/api";

    /// <summary>Where the local host serves the OpenAPI document of <see cref="PipelineRoutes"/>.</summary>
    public const string OpenApiPath = RoutePrefix + "/openapi.json";

    /// <summary>The OpenAPI document generator (Microsoft.AspNetCore.OpenApi) for <see cref="MapPipelineApi"/>.</summary>
    public static IServiceCollection AddPipelineOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "RMT pipelines",
                Version = "v1",
                Description = "Reinforcement Mid-Training pipelines: submit, follow and cancel runs. In Azure every route needs a " +
                              "function key (x-functions-key header or code query parameter); the local host needs none.",
            };
            return Task.CompletedTask;
        }));

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
        }).Describe(PipelineRoutes.Submit);

        api.MapGet("/pipelines/{id}", async (HttpContext http, string id, PipelineHandlers handlers) =>
            await WriteAsync(http, await handlers.GetStatusAsync(id, http.RequestAborted))).Describe(PipelineRoutes.Get);

        api.MapGet("/pipelines", async (HttpContext http, PipelineHandlers handlers, string? status, string? top, string? continuationToken) =>
        {
            if (!string.IsNullOrEmpty(top) && !int.TryParse(top, out _))
            {
                var problem = new ProblemDetails(ProblemDetails.TypeFor(400), "Invalid page size", 400, $"top '{top}' is not a number; use 1 to 1000", "top");
                await WriteAsync(http, new HandlerResult(400, PipelineApiJson.Serialize(problem), HandlerResult.ProblemContentType, new Dictionary<string, string>()));
                return;
            }
            await WriteAsync(http, await handlers.ListAsync(
                NullIfEmpty(status), string.IsNullOrEmpty(top) ? null : int.Parse(top), NullIfEmpty(continuationToken), http.RequestAborted));
        }).Describe(PipelineRoutes.List);

        api.MapPost("/pipelines/{id}/cancel", async (HttpContext http, string id, string? reason, PipelineHandlers handlers) =>
            await WriteAsync(http, await handlers.CancelAsync(id, NullIfEmpty(reason), http.RequestAborted))).Describe(PipelineRoutes.Cancel);

        api.MapGet("/health", () => Results.Text("ok")).ExcludeFromDescription();
        app.MapOpenApi(OpenApiPath);
        return app;
    }

    /// <summary>The route's OpenAPI metadata: operation id, summary, request body, the success body
    /// and a problem-details body for each error status.</summary>
    private static RouteHandlerBuilder Describe(this RouteHandlerBuilder endpoint, PipelineRoute route)
    {
#pragma warning disable CA2263 // the body types come from the route catalog at run time
        endpoint.WithName(route.Name).WithSummary(route.Summary).WithTags("pipelines")
            .Produces(route.SuccessStatus, route.SuccessBody, HandlerResult.JsonContentType);
        if (route.RequestBody is not null)
            endpoint.Accepts(route.RequestBody, HandlerResult.JsonContentType);
        foreach (var status in route.ProblemStatuses)
            endpoint.Produces(status, typeof(ProblemDetails), HandlerResult.ProblemContentType);
#pragma warning restore CA2263
        return endpoint;
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

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

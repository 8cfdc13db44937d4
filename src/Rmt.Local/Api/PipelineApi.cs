using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
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

    /// <summary>Who answers the API: the Functions app in Azure (function keys) or the local host
    /// (loopback only, <see cref="CrossSiteGuard"/>). Each adds the statuses its gate answers before a
    /// handler runs.</summary>
    public enum Host { Functions, Local }

    /// <summary>The status the Functions host answers, with an empty body, to a request without a valid
    /// function key (AuthorizationLevel.Function).</summary>
    public const int MissingFunctionKey = 401;

    /// <summary>The statuses a host's gate adds to an operation of <paramref name="method"/>.</summary>
    public static int[] GateStatuses(Host host, string method) =>
        host == Host.Functions ? [MissingFunctionKey] : CrossSiteGuard.Statuses(method);

    /// <summary>The OpenAPI document generator (Microsoft.AspNetCore.OpenApi) for <see cref="MapPipelineApi"/>,
    /// as <paramref name="host"/> serves it. The checked-in src/Rmt.Functions/openapi.json is the
    /// <see cref="Host.Functions"/> document; the local host serves the <see cref="Host.Local"/> one.</summary>
    public static IServiceCollection AddPipelineOpenApi(this IServiceCollection services, Host host) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "RMT pipelines",
                    Version = "v1",
                    Description = host == Host.Functions
                        ? "Reinforcement Mid-Training pipelines: submit, follow and cancel runs. Every route needs a function key " +
                          "(x-functions-key header or code query parameter); without one the host answers 401."
                        : "Reinforcement Mid-Training pipelines on the local host: submit, follow and cancel runs. No keys; the API " +
                          "answers loopback requests without a foreign Origin only (403 otherwise) and POST bodies only as JSON (415 otherwise).",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                AddGateResponses(operation, GateStatuses(host, context.Description.HttpMethod ?? "GET"));
                return Task.CompletedTask;
            });
        });

    /// <summary>Adds the gate's statuses to an operation: a missing key has no body; the local guard's
    /// refusals are problem details, shaped like the operation's other problems.</summary>
    private static void AddGateResponses(OpenApiOperation operation, int[] statuses)
    {
        operation.Responses ??= [];
        var problem = operation.Responses.Values.FirstOrDefault(r => r.Content?.ContainsKey(HandlerResult.ProblemContentType) == true)?.Content;
        foreach (var status in statuses)
        {
            var response = new OpenApiResponse { Description = ReasonPhrases.GetReasonPhrase(status) };
            if (status != MissingFunctionKey)
                response.Content = problem ?? throw new InvalidOperationException($"{operation.OperationId} documents no problem response to copy the shape of");
            operation.Responses[status.ToString(System.Globalization.CultureInfo.InvariantCulture)] = response;
        }
    }

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

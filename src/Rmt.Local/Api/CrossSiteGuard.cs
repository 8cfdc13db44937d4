using Microsoft.AspNetCore.Http;
using Rmt.Pipeline.Http;

namespace Rmt.Local.Api;

/// <summary>Keeps web pages out of the local API. It listens on loopback only and has no keys, so a page
/// open in the developer's browser could otherwise start or cancel runs: a cross-site "simple" POST
/// (form or text/plain body) needs no CORS preflight, and DNS rebinding can point a foreign name at
/// 127.0.0.1. So every API request must
/// <list type="bullet">
/// <item>name a loopback host (Host header 127.0.0.1, localhost or [::1]; defeats DNS rebinding), 403 otherwise;</item>
/// <item>come from the API's own origin when it carries an Origin header (browsers send one cross-site), 403 otherwise;</item>
/// <item>send a POST body only as application/json (which a page cannot send cross-site without a
///   preflight this API never grants), 415 otherwise.</item>
/// </list>
/// curl, scripts and the tests send no Origin and are unaffected.</summary>
public static class CrossSiteGuard
{
    private static readonly string[] LoopbackHosts = ["127.0.0.1", "localhost", "[::1]", "::1"];

    public static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var problem = Check(context.HttpContext.Request);
        if (problem is null) return await next(context);
        return Results.Text(problem.Json, problem.ContentType, statusCode: problem.StatusCode);
    }

    /// <summary>Null when the request may go on; otherwise the problem to answer.</summary>
    public static HandlerResult? Check(HttpRequest request)
    {
        if (!LoopbackHosts.Contains(request.Host.Host, StringComparer.OrdinalIgnoreCase))
            return HandlerResult.Problem(403, "Not a local request",
                $"Host '{request.Host}' is not a loopback name; the local API answers only http://127.0.0.1 or http://localhost", "Host");
        var origin = request.Headers.Origin.ToString();
        var own = $"{request.Scheme}://{request.Host}";
        if (origin.Length > 0 && !string.Equals(origin, own, StringComparison.OrdinalIgnoreCase))
            return HandlerResult.Problem(403, "Cross-site request refused",
                $"Origin '{origin}' is not this API ({own}); web pages may not call the local API. Use curl or a script (they send no Origin)", "Origin");
        var hasBody = request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;
        if (HttpMethods.IsPost(request.Method) && hasBody && !IsJson(request.ContentType))
            return HandlerResult.Problem(415, "The body must be JSON",
                $"Content-Type is '{request.ContentType}'; send the request body with Content-Type: application/json", "Content-Type");
        return null;
    }

    /// <summary>The statuses <see cref="Check"/> can answer for a request of <paramref name="method"/>
    /// (the local OpenAPI document lists them).</summary>
    public static int[] Statuses(string method) => HttpMethods.IsPost(method) ? [403, 415] : [403];

    private static bool IsJson(string? contentType) =>
        contentType is not null && contentType.Split(';')[0].Trim().Equals("application/json", StringComparison.OrdinalIgnoreCase);
}

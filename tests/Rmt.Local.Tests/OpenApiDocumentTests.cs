using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rmt.Cloud.Azurite;
using Rmt.Local.Api;
using Rmt.Pipeline.Http;

namespace Rmt.Local.Tests;

/// <summary>The OpenAPI document of the HTTP API, generated from the local host's endpoints (the same
/// handlers as the Functions app): every route, status code and problem-details shape is in it, and the
/// copy checked in for the Functions app (src/Rmt.Functions/openapi.json) is what it generates.
/// After changing the API, regenerate the copy: RMT_UPDATE_OPENAPI=1 ./test.sh --filter OpenApiDocumentTests</summary>
public sealed class OpenApiDocumentTests
{
    private static readonly string CheckedIn = Path.Combine(AzuriteServer.FindRepoRoot(), "src", "Rmt.Functions", "openapi.json");

    /// <summary>GET /api/openapi.json from the API mapped as the local host maps it (no durable backend:
    /// generating the document calls no handler).</summary>
    private static async Task<JsonObject> ServedDocumentAsync(PipelineApi.Host host)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddPipelineOpenApi(host);
        builder.Services.AddSingleton<PipelineHandlers>(_ => throw new InvalidOperationException("the document must not call a handler"));
        await using var app = builder.Build();
        app.MapPipelineApi();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(address.TrimEnd('/') + PipelineApi.OpenApiPath));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        await app.StopAsync();
        document.Remove("servers"); // the address of this test server
        return document;
    }

    private static JsonObject Schema(JsonObject document, JsonNode? schema)
    {
        var reference = schema?["$ref"]?.GetValue<string>();
        return reference is null
            ? schema!.AsObject()
            : document["components"]!["schemas"]![reference["#/components/schemas/".Length..]]!.AsObject();
    }

    [Theory]
    [InlineData(PipelineApi.Host.Functions)]
    [InlineData(PipelineApi.Host.Local)]
    public async Task Every_route_status_code_and_problem_shape_is_in_the_document(PipelineApi.Host host)
    {
        var document = await ServedDocumentAsync(host);
        Assert.StartsWith("3.", document["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        var paths = document["paths"]!.AsObject();
        Assert.Equal(PipelineRoutes.All.Select(r => r.Path).Distinct().Order(StringComparer.Ordinal), paths.Select(p => p.Key).Order(StringComparer.Ordinal));

        foreach (var route in PipelineRoutes.All)
        {
            var operation = paths[route.Path]![route.Method.ToLowerInvariant()]?.AsObject();
            Assert.True(operation is not null, $"{route.Method} {route.Path} is missing");
            Assert.Equal(route.Name, operation["operationId"]?.GetValue<string>());
            var responses = operation["responses"]!.AsObject();
            var gate = PipelineApi.GateStatuses(host, route.Method);
            Assert.Equal(route.ProblemStatuses.Concat(gate).Append(route.SuccessStatus).Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal),
                responses.Select(r => r.Key).Order(StringComparer.Ordinal));

            var success = Schema(document, responses[route.SuccessStatus.ToString(System.Globalization.CultureInfo.InvariantCulture)]!["content"]![HandlerResult.JsonContentType]!["schema"]);
            foreach (var property in route.SuccessBody.GetProperties())
                Assert.True(success["properties"]!.AsObject().ContainsKey(JsonNamingPolicy.CamelCase.ConvertName(property.Name)),
                    $"{route.Name}: {route.SuccessBody.Name}.{property.Name} is not in the {route.SuccessStatus} schema");

            foreach (var status in route.ProblemStatuses.Concat(gate.Where(s => s != PipelineApi.MissingFunctionKey)))
            {
                var content = responses[status.ToString(System.Globalization.CultureInfo.InvariantCulture)]!["content"]!.AsObject();
                Assert.Equal([HandlerResult.ProblemContentType], content.Select(c => c.Key));
                var problem = Schema(document, content[HandlerResult.ProblemContentType]!["schema"]);
                Assert.Equal(["detail", "field", "instance", "status", "title", "type"], problem["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
            }

            if (host == PipelineApi.Host.Functions)
                Assert.Null(responses[PipelineApi.MissingFunctionKey.ToString(System.Globalization.CultureInfo.InvariantCulture)]!["content"]); // the host's 401 has no body

            var parameters = operation["parameters"]?.AsArray().Select(p => (Name: p!["name"]!.GetValue<string>(), In: p["in"]!.GetValue<string>())).ToList() ?? [];
            foreach (var name in route.Query ?? [])
                Assert.Contains((name, "query"), parameters);
            if (route.Template.Contains("{id}", StringComparison.Ordinal))
                Assert.Contains(("id", "path"), parameters);
            if (route.RequestBody is not null)
            {
                var request = Schema(document, operation["requestBody"]!["content"]![HandlerResult.JsonContentType]!["schema"]);
                Assert.True(request["properties"]!.AsObject().ContainsKey("datasets"), $"{route.Name}: the request body schema has no datasets");
            }
        }
    }

    [Fact]
    public async Task The_functions_app_copy_is_the_generated_document()
    {
        var document = await ServedDocumentAsync(PipelineApi.Host.Functions);
        var generated = document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        if (Environment.GetEnvironmentVariable("RMT_UPDATE_OPENAPI") == "1")
            await File.WriteAllTextAsync(CheckedIn, generated);
        Assert.True(File.Exists(CheckedIn), $"{CheckedIn} is missing; generate it: RMT_UPDATE_OPENAPI=1 ./test.sh --filter OpenApiDocumentTests");
        var checkedIn = JsonNode.Parse(await File.ReadAllTextAsync(CheckedIn));
        Assert.True(JsonNode.DeepEquals(document, checkedIn),
            $"{CheckedIn} differs from the document the API generates; regenerate it: RMT_UPDATE_OPENAPI=1 ./test.sh --filter OpenApiDocumentTests");
    }
}

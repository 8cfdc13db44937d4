using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Pipeline.Http;
using ProblemDetails = Rmt.Pipeline.Http.ProblemDetails;

namespace Rmt.Functions.Tests;

/// <summary>The HTTP functions as classes (no Functions host runs here): what they read from the
/// request and what they put on the response, over a real durable client.</summary>
[Collection(DurableHostCollection.Name)]
public sealed class PipelineHttpFunctionsTests(DurableHostFixture fixture)
{
    private readonly PipelineHttpFunctions _functions = new(NullLogger<PipelineHandlers>.Instance);

    private static HttpRequest Request(string method, string path, string? body = null, string query = "")
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Scheme = "https";
        context.Request.Host = new HostString("rmt-func.azurewebsites.net");
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body ?? ""));
        return context.Request;
    }

    [Fact]
    public async Task Submit_with_an_invalid_field_answers_400_problem_details_naming_it()
    {
        var request = Request("POST", "/api/pipelines", """{"datasets":{"midTrain":"datasets/demo/corpus.txt","postTrain":"datasets/demo/math.jsonl"},"options":{"maxAttempts":0}}""");

        var result = Assert.IsType<ContentResult>(await _functions.SubmitAsync(request, fixture.Host.Client));

        Assert.Equal(400, result.StatusCode);
        Assert.Equal(HandlerResult.ProblemContentType, result.ContentType);
        var problem = PipelineApiJson.Deserialize<ProblemDetails>(result.Content!);
        Assert.Equal("options.maxAttempts", problem.Field);
        Assert.Contains("between 1 and 20", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_answers_202_with_status_urls_on_the_callers_host_then_status_list_and_cancel_follow_the_run()
    {
        var runId = $"fn-{Guid.NewGuid():N}"[..20];
        var body = Rmt.Contracts.RmtJson.Serialize(new Rmt.Contracts.PipelineRequest(
            new Rmt.Contracts.PipelineDatasets("datasets/demo/corpus.txt", "datasets/demo/math.jsonl"), RunId: runId,
            Options: new Rmt.Contracts.PipelineOptions(PollSeconds: 1)));
        var request = Request("POST", "/api/pipelines", body);

        var submitted = Assert.IsType<ContentResult>(await _functions.SubmitAsync(request, fixture.Host.Client));

        Assert.Equal(202, submitted.StatusCode);
        var accepted = PipelineApiJson.Deserialize<SubmitAccepted>(submitted.Content!);
        Assert.Equal($"https://rmt-func.azurewebsites.net/api/pipelines/{runId}", accepted.StatusUri);
        Assert.Equal(accepted.StatusUri + "/cancel", accepted.CancelUri);
        Assert.Equal(accepted.StatusUri, request.HttpContext.Response.Headers.Location.ToString());

        var status = Assert.IsType<ContentResult>(await _functions.GetAsync(Request("GET", $"/api/pipelines/{runId}"), fixture.Host.Client, runId));
        Assert.Equal(200, status.StatusCode);
        Assert.Equal(runId, PipelineApiJson.Deserialize<PipelineStatusView>(status.Content!).Id);

        var list = Assert.IsType<ContentResult>(await _functions.ListAsync(Request("GET", "/api/pipelines", query: "?status=bogus"), fixture.Host.Client));
        Assert.Equal(400, list.StatusCode);
        Assert.Equal("status", PipelineApiJson.Deserialize<ProblemDetails>(list.Content!).Field);
        var badTop = Assert.IsType<ContentResult>(await _functions.ListAsync(Request("GET", "/api/pipelines", query: "?top=many"), fixture.Host.Client));
        Assert.Equal("top", PipelineApiJson.Deserialize<ProblemDetails>(badTop.Content!).Field);

        var cancel = Assert.IsType<ContentResult>(await _functions.CancelAsync(Request("POST", $"/api/pipelines/{runId}/cancel", query: "?reason=test"), fixture.Host.Client, runId));
        Assert.Equal(202, cancel.StatusCode);
        Assert.Equal("test", PipelineApiJson.Deserialize<CancelAccepted>(cancel.Content!).Reason);
    }

    [Fact]
    public async Task Status_of_an_unknown_run_is_404()
    {
        var result = Assert.IsType<ContentResult>(await _functions.GetAsync(Request("GET", "/api/pipelines/nope"), fixture.Host.Client, "nope"));
        Assert.Equal(404, result.StatusCode);
    }
}

using Rmt.Pipeline.Http;
using Rmt.Pipeline.Tests.Fakes;

namespace Rmt.Pipeline.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class PipelineHandlersTests(AzuriteFixture azurite)
{
    [Theory]
    [InlineData("""{"datasets":{"midTrain":"nowhere","postTrain":"datasets/gsm8k/train.jsonl"}}""", "datasets.midTrain")]
    [InlineData("""{"datasets":{"midTrain":"datasets/a/b.txt","postTrain":"datasets/gsm8k/train.jsonl"},"bogus":1}""", "bogus")]
    [InlineData("""{"datasets":{"midTrain":"datasets/a/b.txt","postTrain":"datasets/g/t.jsonl"},"options":{"maxAttempts":0}}""", "options.maxAttempts")]
    public async Task Submit_answers_400_with_problem_details_naming_the_invalid_field(string body, string field)
    {
        await using var host = await PipelineTestHost.StartAsync(azurite);

        var result = await host.Handlers.SubmitAsync(body, "http://localhost/api");

        Assert.Equal(400, result.StatusCode);
        Assert.Equal(HandlerResult.ProblemContentType, result.ContentType);
        var problem = PipelineApiJson.Deserialize<ProblemDetails>(result.Json!);
        Assert.Equal(field, problem.Field);
        Assert.Contains(field, problem.Detail);
        Assert.Empty(host.Queue.Sent);
    }

    [Fact]
    public async Task Submit_answers_202_with_status_urls_and_unknown_runs_answer_404()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite);
        const string body = """{"runId":"api-run","datasets":{"midTrain":"datasets/a/b.txt","postTrain":"datasets/g/t.jsonl"}}""";

        var accepted = await host.Handlers.SubmitAsync(body, "http://localhost:7071/api/");
        var again = await host.Handlers.SubmitAsync(body, "http://localhost:7071/api/");

        Assert.Equal(202, accepted.StatusCode);
        Assert.Equal("http://localhost:7071/api/pipelines/api-run", accepted.Headers["Location"]);
        var body202 = PipelineApiJson.Deserialize<SubmitAccepted>(accepted.Json!);
        Assert.Equal("http://localhost:7071/api/pipelines/api-run/cancel", body202.CancelUri);
        Assert.Equal(409, again.StatusCode); // the run is still going
        Assert.Equal(404, (await host.Handlers.GetStatusAsync("no-such-run")).StatusCode);
        Assert.Equal(404, (await host.Handlers.CancelAsync("no-such-run")).StatusCode);
        Assert.Equal(400, (await host.Handlers.GetStatusAsync("Bad Id")).StatusCode);
        var badFilter = await host.Handlers.ListAsync("sleeping");
        Assert.Equal((400, "status"), (badFilter.StatusCode, PipelineApiJson.Deserialize<ProblemDetails>(badFilter.Json!).Field));
        await host.WaitAsync("api-run");
    }

    [Fact]
    public async Task The_schedule_skips_while_its_previous_run_is_still_going()
    {
        var release = new TaskCompletionSource();
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            await release.Task.WaitAsync(t.Stopping);
            await t.CompleteAsync(job);
        });
        const string template = """{"datasets":{"midTrain":"datasets/a/b.txt","postTrain":"datasets/g/t.jsonl"}}""";
        var at = new DateTime(2026, 3, 1, 3, 0, 0, DateTimeKind.Utc);

        var first = await host.Handlers.SubmitScheduledAsync(template, at);
        var second = await host.Handlers.SubmitScheduledAsync(template, at.AddHours(1));
        release.SetResult();
        await host.WaitAsync(first.RunId!);
        var third = await host.Handlers.SubmitScheduledAsync(template, at.AddHours(2));

        Assert.Equal((true, "sched-20260301-030000"), (first.Started, first.RunId));
        Assert.False(second.Started);
        Assert.Contains("sched-20260301-030000", second.SkippedBecause);
        Assert.True(third.Started);
        await host.WaitAsync(third.RunId!);
    }
}

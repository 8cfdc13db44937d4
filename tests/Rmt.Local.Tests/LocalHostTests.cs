using System.Net;
using System.Text;
using Rmt.Contracts;
using Rmt.Local.Demo;
using Rmt.Local.Jobs;
using Rmt.Pipeline.Http;

namespace Rmt.Local.Tests;

/// <summary>The whole local host (Azurite with a data folder, the durable backend on it, the
/// pipeline worker, the job runner, the HTTP API) driven over HTTP. The trainer here is a shell
/// program that crashes or hangs: these tests are about the host, the API and durability; the real
/// trainer's end-to-end run is in TrainerPipelineTests.</summary>
public sealed class LocalHostTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose()
    {
        _http.Dispose();
        _folder.Dispose();
    }

    private Task<LocalHost> StartHostAsync(IReadOnlyList<string> trainer) =>
        LocalHost.StartAsync(new LocalHostOptions
        {
            RepoRoot = Rmt.Cloud.Azurite.AzuriteServer.FindRepoRoot(),
            DataDir = _folder.File("data"),
            JobRunner = Runners.Options(_folder, trainer),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
            Durable = LocalHostOptions.DefaultDurable with { ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(10), WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(10) },
        });

    private static PipelineRequest Request(string runId, int maxAttempts = 2) =>
        DemoRequest.Create(runId, DemoSize.Tiny) with { Options = new PipelineOptions(MaxAttempts: maxAttempts, PollSeconds: 1, StageTimeoutMinutes: 5) };

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(LocalHost host, string path, string body)
    {
        using var response = await _http.PostAsync(new Uri($"{host.ApiBase}/{path}"), new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<PipelineStatusView> StatusAsync(LocalHost host, string runId) =>
        PipelineApiJson.Deserialize<PipelineStatusView>(await _http.GetStringAsync(new Uri($"{host.ApiBase}/pipelines/{runId}")));

    [Fact]
    public async Task Bad_requests_get_400_problem_details_that_name_the_field()
    {
        await using var host = await StartHostAsync(TrainerScripts.Write(_folder, TrainerScripts.Crash));

        var (status, body) = await PostAsync(host, "pipelines", """{"datasets":{"midTrain":"datasets/demo/corpus.txt","postTrain":"corpus.txt"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var problem = PipelineApiJson.Deserialize<ProblemDetails>(body);
        Assert.Equal("datasets.postTrain", problem.Field);
        Assert.Contains("container/name", problem.Detail, StringComparison.Ordinal);

        (status, body) = await PostAsync(host, "pipelines", """{"datasets":{"midTrain":"datasets/a.txt","postTrain":"datasets/b.jsonl"},"midTrain":{"groupSize":1}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("midTrain.groupSize", PipelineApiJson.Deserialize<ProblemDetails>(body).Field);

        (status, body) = await PostAsync(host, "pipelines", """{"datasets":{"midTrain":"datasets/a.txt","postTrain":"datasets/b.jsonl"},"learningRate":3}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("learningRate", PipelineApiJson.Deserialize<ProblemDetails>(body).Detail, StringComparison.Ordinal);

        using var list = await _http.GetAsync(new Uri($"{host.ApiBase}/pipelines?status=sleeping"));
        Assert.Equal(HttpStatusCode.BadRequest, list.StatusCode);
        Assert.Equal("status", PipelineApiJson.Deserialize<ProblemDetails>(await list.Content.ReadAsStringAsync()).Field);

        using var missing = await _http.GetAsync(new Uri($"{host.ApiBase}/pipelines/no-such-run"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Cross-site requests and oversized bodies are refused before any handler runs.
        var valid = RmtJson.Serialize(Request("never-started"));
        using var foreign = new HttpRequestMessage(HttpMethod.Post, new Uri($"{host.ApiBase}/pipelines")) { Content = new StringContent(valid, Encoding.UTF8, "application/json") };
        foreign.Headers.Add("Origin", "https://evil.example");
        using var foreignAnswer = await _http.SendAsync(foreign);
        Assert.Equal(HttpStatusCode.Forbidden, foreignAnswer.StatusCode);
        Assert.Equal("Origin", PipelineApiJson.Deserialize<ProblemDetails>(await foreignAnswer.Content.ReadAsStringAsync()).Field);
        using var form = await _http.PostAsync(new Uri($"{host.ApiBase}/pipelines"), new StringContent(valid, Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
        (status, _) = await PostAsync(host, "pipelines", valid + new string(' ', Rmt.Pipeline.Http.PipelineHandlers.MaxRequestBodyBytes));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        using var cancelFromPage = new HttpRequestMessage(HttpMethod.Post, new Uri($"{host.ApiBase}/pipelines/never-started/cancel"));
        cancelFromPage.Headers.Add("Origin", "null");
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(cancelFromPage)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri($"{host.ApiBase}/pipelines/never-started"))).StatusCode);
    }

    [Fact]
    public async Task A_stage_whose_job_process_keeps_dying_is_retried_then_the_run_fails_naming_every_attempt()
    {
        await using var host = await StartHostAsync(TrainerScripts.Write(_folder, TrainerScripts.Crash));

        var (status, body) = await PostAsync(host, "pipelines", RmtJson.Serialize(Request("crashing", maxAttempts: 2)));
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal($"{host.ApiBase}/pipelines/crashing", PipelineApiJson.Deserialize<SubmitAccepted>(body).StatusUri);

        var final = await Wait.UntilAsync(async () =>
        {
            var view = await StatusAsync(host, "crashing");
            return view.Status is "failed" ? view : null;
        }, TimeSpan.FromSeconds(60), "the run to fail");
        Assert.Contains("all 2 attempts were used", final.Failure ?? final.Message, StringComparison.Ordinal);
        Assert.Contains("attempt 2 failed", final.Failure ?? final.Message, StringComparison.Ordinal);
        Assert.Equal(2, host.Runner.Finished.Count);
        Assert.All(host.Runner.Finished, f => Assert.Equal(137, f.ExitCode));
        Assert.True(await host.Cloud.Artifacts.ExistsAsync(BlobLayout.RunReport("crashing")), "the failed run has a report");

        var failedRuns = PipelineApiJson.Deserialize<PipelineList>(await _http.GetStringAsync(new Uri($"{host.ApiBase}/pipelines?status=failed")));
        Assert.Contains(failedRuns.Items, i => i.Id == "crashing");
        var running = PipelineApiJson.Deserialize<PipelineList>(await _http.GetStringAsync(new Uri($"{host.ApiBase}/pipelines?status=running")));
        Assert.DoesNotContain(running.Items, i => i.Id == "crashing");
    }

    [Fact]
    public async Task A_restarted_host_continues_the_run_from_durable_state_and_cancel_leaves_no_running_job()
    {
        var trainer = TrainerScripts.Write(_folder, TrainerScripts.Stubborn);
        int firstPid;
        await using (var host = await StartHostAsync(trainer))
        {
            Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(host, "pipelines", RmtJson.Serialize(Request("restarted", maxAttempts: 3)))).Status);
            firstPid = (await Wait.UntilAsync(() => Task.FromResult(host.Runner.Current), TimeSpan.FromSeconds(60), "attempt 1 to start")).ProcessId;
            var view = await StatusAsync(host, "restarted");
            Assert.Equal(("running", "pretrain"), (view.Status, view.Stage));
        } // stops the job process (it ignores SIGTERM, so it is killed), the worker, the backend and Azurite

        Assert.True(Wait.ProcessIsGone(firstPid), "the first host left its job process running");

        await using (var host = await StartHostAsync(trainer))
        {
            // Same instance, same stage: the orchestration took up its durable state. The first host
            // reported the stopped job as retryable, so the stage continues with attempt 2.
            var second = await Wait.UntilAsync(() => Task.FromResult(host.Runner.Current), TimeSpan.FromSeconds(60), "attempt 2 to start");
            Assert.Equal(("restarted", "pretrain", 2), (second.Job.RunId, second.Job.Stage, second.Job.Attempt));
            var view = await Wait.UntilAsync(async () =>
            {
                var v = await StatusAsync(host, "restarted");
                return v.Attempt == 2 ? v : null;
            }, TimeSpan.FromSeconds(30), "the status to show attempt 2");
            Assert.Equal("running", view.Status);

            var (status, body) = await PostAsync(host, "pipelines/restarted/cancel", "");
            Assert.Equal(HttpStatusCode.Accepted, status);
            Assert.Equal("cancelling", PipelineApiJson.Deserialize<CancelAccepted>(body).Status);

            var final = await Wait.UntilAsync(async () =>
            {
                var v = await StatusAsync(host, "restarted");
                return v.Status == "cancelled" ? v : null;
            }, TimeSpan.FromSeconds(60), "the run to be cancelled");
            Assert.Equal("cancelled", final.Output!.Status);
            await Wait.UntilAsync(() => host.Runner.Current is null, TimeSpan.FromSeconds(30), "the job process to be stopped");
            Assert.True(Wait.ProcessIsGone(second.ProcessId), "the cancelled run's job process still runs");
            Assert.Equal(StopCause.Cancelled, host.Runner.Finished.Single().Stop);
        }
    }
}

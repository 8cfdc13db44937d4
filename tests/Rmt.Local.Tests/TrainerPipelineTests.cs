using System.Net;
using System.Text;
using Rmt.Cloud.Local;
using Rmt.Contracts;
using Rmt.Local.Demo;
using Rmt.Local.Jobs;
using Rmt.Pipeline.Http;

namespace Rmt.Local.Tests;

/// <summary>The local host with the real trainer (Rmt.GpuJob, TorchSharp on the CPU) as its job
/// process: the smallest pipeline that trains for real.</summary>
public sealed class TrainerPipelineTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose()
    {
        _http.Dispose();
        _folder.Dispose();
    }

    private static string GpuJob()
    {
        var dll = LocalJobRunnerOptions.FindGpuJob(AzuriteServer.FindRepoRoot(), LocalCommand.BuildConfiguration());
        Assert.True(File.Exists(dll), $"the trainer {dll} is not built; build src/Rmt.GpuJob (./test.sh builds everything)");
        return dll;
    }

    private Task<LocalHost> StartHostAsync() => LocalHost.StartAsync(new LocalHostOptions
    {
        RepoRoot = AzuriteServer.FindRepoRoot(),
        DataDir = _folder.File("data"),
        JobRunner = Runners.Options(_folder, LocalJobRunnerOptions.ForGpuJob(GpuJob())) with { CancelGrace = TimeSpan.FromSeconds(10) },
        LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
        Durable = LocalHostOptions.DefaultDurable with { ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(10), WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(10) },
    });

    private async Task<PipelineStatusView> StatusAsync(LocalHost host, string runId) =>
        PipelineApiJson.Deserialize<PipelineStatusView>(await _http.GetStringAsync(new Uri($"{host.ApiBase}/pipelines/{runId}")));

    private static async Task<List<StageEvent>> EventsAsync(LocalHost host, string runId) =>
        ((await host.Cloud.Artifacts.ReadAppendLogAsync(BlobLayout.RunEvents(runId))) ?? "")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => RmtJson.Parse<StageEvent>(line, "events.jsonl"))
            .ToList();

    [Fact]
    public async Task Killing_the_job_process_mid_stage_leads_to_a_retry_that_resumes_from_its_checkpoint()
    {
        const string runId = "killed";
        await using var host = await StartHostAsync();
        await DemoData.UploadAsync(host.Cloud.Artifacts, DemoData.Write(_folder.File("demo-data"), corpusLines: 600, trainProblems: 40, testProblems: 8));
        // Pretraining long enough to be killed after its first checkpoint, with a checkpoint every 5 steps.
        var request = DemoRequest.Create(runId, DemoSize.Tiny) with
        {
            Pretrain = new PretrainConfig(new TrainingSchedule(Steps: 400, BatchSize: 2, WarmupSteps: 2, CheckpointEvery: 5, ProgressEvery: 5), SequenceLength: 32),
        };
        using (var response = await _http.PostAsync(new Uri($"{host.ApiBase}/pipelines"), new StringContent(RmtJson.Serialize(request), Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var checkpoint = await Wait.UntilAsync(async () =>
            await host.Cloud.Artifacts.ListCheckpointsAsync(runId, "pretrain") is { Count: > 0 } found ? found[0] : null, TimeSpan.FromMinutes(2), "the first pretrain checkpoint");
        var first = host.Runner.Current;
        Assert.NotNull(first);
        Assert.Equal(1, first.Job.Attempt);
        using (var process = System.Diagnostics.Process.GetProcessById(first.ProcessId))
            process.Kill(entireProcessTree: true);

        // The runner reports the dead process; the stage orchestration starts attempt 2, which resumes.
        var second = await Wait.UntilAsync(() => Task.FromResult(host.Runner.Current is { Job.Attempt: 2 } c ? c : null),
            TimeSpan.FromMinutes(1), "attempt 2 of pretrain to start");
        Assert.Equal("pretrain", second.Job.Stage);
        var started = await Wait.UntilAsync(async () =>
            (await EventsAsync(host, runId)).FirstOrDefault(e => e is { Stage: "pretrain", Attempt: 2, Kind: StageEventKind.Started }),
            TimeSpan.FromMinutes(1), "attempt 2's started event");
        Assert.True(started.Progress!.Step >= checkpoint.Step, $"attempt 2 started at step {started.Progress.Step}, before the checkpoint at {checkpoint.Step}");
        Assert.Contains($"step {started.Progress.Step}", started.Message, StringComparison.Ordinal);
        Assert.Contains("resum", started.Message, StringComparison.OrdinalIgnoreCase);

        var failed = (await EventsAsync(host, runId)).Single(e => e is { Stage: "pretrain", Attempt: 1, Kind: StageEventKind.Failed });
        Assert.Equal(LocalJobRunner.RunnerEventSequence, failed.Sequence);
        Assert.True(failed.Failure!.Retryable);

        var view = await StatusAsync(host, runId);
        Assert.Equal(("running", "pretrain", 2), (view.Status, view.Stage, view.Attempt));
        // Done with what this test shows: cancel, which also stops the trainer.
        using (var cancel = await _http.PostAsync(new Uri($"{host.ApiBase}/pipelines/{runId}/cancel"), null))
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        await Wait.UntilAsync(() => host.Runner.Current is null, TimeSpan.FromMinutes(1), "the trainer to stop");
        Assert.True(Wait.ProcessIsGone(second.ProcessId));
    }

    // Runs every stage for real (about 3 minutes here).
    [Fact]
    public async Task A_full_tiny_pipeline_completes_with_one_trace_and_a_report_that_shows_both_training_stages()
    {
        const string runId = "full";
        await using var host = await StartHostAsync();
        var (lines, train, test) = DemoRequest.DataSize(DemoSize.Tiny);
        await DemoData.UploadAsync(host.Cloud.Artifacts, DemoData.Write(_folder.File("demo-data"), corpusLines: lines, trainProblems: train, testProblems: test));
        const string traceParent = "00-5a1e0b9c2d3f4e5a6b7c8d9e0f1a2b3c-1111111111111111-01";
        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri($"{host.ApiBase}/pipelines"))
        {
            Content = new StringContent(RmtJson.Serialize(DemoRequest.Create(runId, DemoSize.Tiny)), Encoding.UTF8, "application/json"),
        };
        post.Headers.Add("traceparent", traceParent);
        using (var response = await _http.SendAsync(post))
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var final = await Wait.UntilAsync(async () =>
        {
            var view = await StatusAsync(host, runId);
            return view.Status is "running" or "pending" ? null : view;
        }, TimeSpan.FromMinutes(10), "the run to end");

        Assert.True(final.Status == "completed", $"the run ended {final.Status}: {final.Failure ?? final.Output?.Reason}");
        Assert.Equal(["pretrain", "mid-train", "mid-train-eval", "post-train", "post-train-eval"], final.Output!.Stages.Select(s => s.Stage));
        Assert.All(final.Output.Stages, s => Assert.Equal("completed", s.Status));
        Assert.All(host.Runner.Finished, f => Assert.Equal(0, f.ExitCode));

        var report = await host.Cloud.Artifacts.ReadTextAsync(BlobLayout.RunReport(runId));
        Assert.NotNull(report);
        Assert.Contains("mid-train", report, StringComparison.Ordinal);
        Assert.Contains("post-train", report, StringComparison.Ordinal);
        // The paper tables are filled from the metrics the real stages wrote (Contracts.StageMetricNames).
        var nextToken = TableRows(report, "## Next-token reasoning accuracy");
        Assert.NotEmpty(nextToken);
        Assert.All(nextToken, row => Assert.DoesNotContain("-", row.Skip(1).Take(4))); // easy, medium, hard, avg (argmax rows have no reasoning length)
        var math = TableRows(report, "## Math accuracy");
        Assert.NotEmpty(math);
        Assert.All(math, row => Assert.DoesNotContain("-", row.Skip(1).Take(2)));
        Assert.NotEmpty(await host.Cloud.Artifacts.ListCheckpointsAsync(runId, "post-train"));

        // One trace from the HTTP request into every stage's events (the trainer's).
        var events = await EventsAsync(host, runId);
        Assert.Equal(5, events.Count(e => e.Kind == StageEventKind.Completed));
        Assert.All(events, e => Assert.Equal("5a1e0b9c2d3f4e5a6b7c8d9e0f1a2b3c", e.TraceParent?.Split('-')[1]));
    }

    /// <summary>The data rows (cells without the row name's pipes) of the markdown table under a heading.</summary>
    private static List<string[]> TableRows(string markdown, string heading)
    {
        var lines = markdown.Split('\n').Select(l => l.Trim()).ToList();
        int at = lines.FindIndex(l => l.StartsWith(heading, StringComparison.Ordinal));
        Assert.True(at >= 0, $"the report has no section '{heading}'");
        return [.. lines.Skip(at + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Skip(2)
            .Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray())];
    }
}

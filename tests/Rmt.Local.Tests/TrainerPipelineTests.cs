using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Rmt.Cloud.Azurite;
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

    private Task<LocalHost> StartHostAsync(bool trace = false) => LocalHost.StartAsync(new LocalHostOptions
    {
        RepoRoot = AzuriteServer.FindRepoRoot(),
        DataDir = _folder.File("data"),
        JobRunner = Runners.Options(_folder, LocalJobRunnerOptions.ForGpuJob(GpuJob())) with { CancelGrace = TimeSpan.FromSeconds(10), TraceToConsole = trace },
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
        await DemoData.UploadAsync(host.Cloud.Artifacts, DemoData.Write(_folder.File("demo-data"), DemoRequest.DataSize(DemoSize.Tiny) with { PretrainDocuments = 300 }));
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

        // The status API reads the stage sub-orchestration's custom status, which the durable backend
        // persists on its own schedule: once (2026-12-07) a read right after the started event saw attempt 0.
        var view = await Wait.UntilAsync(async () => await StatusAsync(host, runId) is { Attempt: 2 } v ? v : null,
            TimeSpan.FromSeconds(30), "the status API to report attempt 2");
        Assert.Equal(("running", "pretrain", 2), (view.Status, view.Stage, view.Attempt));
        // Done with what this test shows: cancel, which also stops the trainer.
        using (var cancel = await _http.PostAsync(new Uri($"{host.ApiBase}/pipelines/{runId}/cancel"), null))
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        await Wait.UntilAsync(() => host.Runner.Current is null, TimeSpan.FromMinutes(1), "the trainer to stop");
        Assert.True(Wait.ProcessIsGone(second.ProcessId));
    }

    [Fact]
    public async Task One_trace_runs_from_the_http_request_through_the_pipeline_and_the_job_runner_into_a_trainer_step()
    {
        const string runId = "traced";
        const string traceId = "7f3c1a2b4d5e6f708192a3b4c5d6e7f8";
        // The host's spans, recorded in this process (other tests' hosts may run beside it: filtered by trace id).
        var hostSpans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Microsoft.AspNetCore" or LocalTelemetry.SourceName or Rmt.Pipeline.PipelineNames.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = hostSpans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        await using var host = await StartHostAsync(trace: true);
        await DemoData.UploadAsync(host.Cloud.Artifacts, DemoData.Write(_folder.File("demo-data"), DemoRequest.DataSize(DemoSize.Tiny) with { PretrainDocuments = 300 }));
        var request = DemoRequest.Create(runId, DemoSize.Tiny) with
        {
            Pretrain = new PretrainConfig(new TrainingSchedule(Steps: 400, BatchSize: 2, WarmupSteps: 2, CheckpointEvery: 200, ProgressEvery: 5), SequenceLength: 32),
        };
        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri($"{host.ApiBase}/pipelines"))
        {
            Content = new StringContent(RmtJson.Serialize(request), Encoding.UTF8, "application/json"),
        };
        post.Headers.Add("traceparent", $"00-{traceId}-2222222222222222-01");
        using (var response = await _http.SendAsync(post))
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        // The trainer (started with --trace) prints its spans into its job log.
        var log = Path.Combine(_folder.File("jobs"), "logs", $"{runId}-pretrain-1.log");
        async Task<List<ConsoleSpans.Span>> TrainerSpansAsync()
        {
            if (!File.Exists(log)) return [];
            using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return ConsoleSpans.Parse(await reader.ReadToEndAsync());
        }
        await Wait.UntilAsync(async () => (await TrainerSpansAsync()).Any(s => s.Name == TelemetryNames.TrainStepSpan) ? new object() : null,
            TimeSpan.FromMinutes(2), "a trainer step span in the pretrain job's log");

        // Cancel, which stops the trainer; its attempt span ends (and is printed) as it exits.
        using (var cancel = await _http.PostAsync(new Uri($"{host.ApiBase}/pipelines/{runId}/cancel"), null))
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        await Wait.UntilAsync(() => host.Runner.Current is null, TimeSpan.FromMinutes(1), "the trainer to stop");
        var trainer = await TrainerSpansAsync();

        var inTrace = hostSpans.Where(s => s.TraceId.ToHexString() == traceId).ToList();
        // The HTTP server's span continues the caller's traceparent; the pipeline and the runner follow.
        Assert.Single(inTrace, s => s.Source.Name == "Microsoft.AspNetCore" && s.ParentSpanId.ToHexString() == "2222222222222222");
        Assert.Contains(inTrace, s => s.OperationName == "rmt.pipeline.dispatch" && (s.GetTagItem("rmt.run_id") as string) == runId);
        var runner = Assert.Single(inTrace, s => s.OperationName == "rmt.local.job" && (s.GetTagItem("rmt.stage") as string) == "pretrain");

        var job = Assert.Single(trainer, s => s.Name == TelemetryNames.JobSpan);
        Assert.Equal((traceId, runner.SpanId.ToHexString()), (job.TraceId, job.ParentSpanId)); // across the process boundary (TRACEPARENT)
        var step = trainer.First(s => s.Name == TelemetryNames.TrainStepSpan);
        Assert.Equal((traceId, job.SpanId), (step.TraceId, step.ParentSpanId));
    }

    /// <summary>Spans as OpenTelemetry's console exporter prints them ("Activity.TraceId: ..." blocks);
    /// other lines (the trainer's logs) are skipped.</summary>
    private static class ConsoleSpans
    {
        public sealed record Span(string TraceId, string SpanId, string? ParentSpanId, string? Name);

        public static List<Span> Parse(string text)
        {
            var spans = new List<Span>();
            Span? current = null;
            foreach (var raw in text.Split('\n'))
            {
                var line = raw.Trim();
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (!line.StartsWith("Activity.", StringComparison.Ordinal) || colon < 0) continue;
                var (key, value) = (line[..colon], line[(colon + 1)..].Trim());
                if (key == "Activity.TraceId")
                {
                    if (current is not null) spans.Add(current);
                    current = new Span(value, "", null, null);
                }
                else if (current is not null)
                    current = key switch
                    {
                        "Activity.SpanId" => current with { SpanId = value },
                        "Activity.ParentSpanId" => current with { ParentSpanId = value },
                        "Activity.DisplayName" => current with { Name = value },
                        _ => current,
                    };
            }
            if (current is not null) spans.Add(current);
            return spans;
        }
    }

    // Runs every stage for real (about 3 minutes here).
    [Fact]
    public async Task A_full_tiny_pipeline_completes_with_one_trace_and_a_report_that_shows_both_training_stages()
    {
        const string runId = "full";
        await using var host = await StartHostAsync();
        await DemoData.UploadAsync(host.Cloud.Artifacts, DemoData.Write(_folder.File("demo-data"), DemoRequest.DataSize(DemoSize.Tiny)));
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

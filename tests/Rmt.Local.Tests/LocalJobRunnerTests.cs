using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Local.Jobs;

namespace Rmt.Local.Tests;

/// <summary>The local job runner against a real Azurite job queue and event stream, with real child
/// processes: what it reports for a process that dies, how it stops a cancelled run's process, and
/// what it hands the process (job file, work folder, trace context).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class LocalJobRunnerTests(AzuriteFixture azurite) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private sealed record Harness(CloudClients Cloud, LocalJobRunner Runner, StageJob Job) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Runner.StopAsync(CancellationToken.None);
            Runner.Dispose();
            await Cloud.DisposeAsync();
        }
    }

    private async Task<Harness> StartAsync(string script, string traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var cloud = CloudClients.Create(CloudOptions.ForConnectionString(azurite.Server.ConnectionString) with { JobQueue = $"jobs-{suffix}" });
        if (cloud.Artifacts is BlobArtifactStore store) await store.EnsureContainersAsync();
        var runner = new LocalJobRunner(cloud.Jobs, cloud.Events, cloud.Artifacts,
            Runners.Options(_folder, TrainerScripts.Write(_folder, script)), NullLogger<LocalJobRunner>.Instance);
        var runId = $"run-{suffix}";
        var job = new StageJob(runId, "pretrain", StageKind.Pretrain, 1, BlobLayout.CheckpointPrefix(runId, "pretrain"),
            Dataset: "datasets/demo/corpus.txt", Pretrain: new PretrainConfig(), TraceParent: traceParent);
        await cloud.Jobs.SendAsync(job);
        await runner.StartAsync(CancellationToken.None);
        return new Harness(cloud, runner, job);
    }

    private static async Task<List<StageEvent>> DrainAsync(CloudClients cloud, string runId)
    {
        var all = new List<StageEvent>();
        for (var i = 0; i < 5 && all.Count == 0; i++)
        {
            all.AddRange(await cloud.Events.DrainAsync(runId, _ => Task.CompletedTask));
            if (all.Count == 0) await Task.Delay(300);
        }
        return all;
    }

    [Fact]
    public async Task A_killed_job_process_is_reported_as_a_retryable_infrastructure_failure()
    {
        await using var h = await StartAsync(TrainerScripts.Crash);

        var finished = await Wait.UntilAsync(() => Task.FromResult(h.Runner.Finished.Count > 0 ? h.Runner.Finished[0] : null), TimeSpan.FromSeconds(30), "the job to end");
        Assert.Equal(137, finished.ExitCode);
        Assert.Equal(StopCause.None, finished.Stop);

        var failed = Assert.Single(await DrainAsync(h.Cloud, h.Job.RunId));
        Assert.Equal(StageEventKind.Failed, failed.Kind);
        Assert.Equal((h.Job.Stage, h.Job.Attempt), (failed.Stage, failed.Attempt));
        Assert.Equal(LocalJobRunner.RunnerEventSequence, failed.Sequence);
        Assert.Equal(FailureKind.Infrastructure, failed.Failure!.Kind);
        Assert.True(failed.Failure.Retryable);
        Assert.Contains("exited with code 137", failed.Failure.Message, StringComparison.Ordinal);
        // The message was settled when the process started: nothing is left for a second run.
        Assert.Null(await h.Cloud.Jobs.ReceiveAsync(TimeSpan.Zero));
    }

    [Fact]
    public async Task A_cancelled_runs_job_process_is_stopped_and_reported_as_cancelled()
    {
        await using var h = await StartAsync(TrainerScripts.Stubborn);
        var running = await Wait.UntilAsync(() => Task.FromResult(h.Runner.Current), TimeSpan.FromSeconds(30), "the job to start");

        await h.Cloud.Artifacts.WriteTextAsync(BlobLayout.CancelMarker(h.Job.RunId), "cancelled by the test");

        var finished = await Wait.UntilAsync(() => Task.FromResult(h.Runner.Finished.Count > 0 ? h.Runner.Finished[0] : null), TimeSpan.FromSeconds(30), "the job to be stopped");
        Assert.Equal(StopCause.Cancelled, finished.Stop);
        Assert.True(Wait.ProcessIsGone(running.ProcessId), $"process {running.ProcessId} still runs");
        Assert.Null(h.Runner.Current);
        var cancelled = Assert.Single(await DrainAsync(h.Cloud, h.Job.RunId));
        Assert.Equal(FailureKind.Cancelled, cancelled.Failure!.Kind);
        Assert.False(cancelled.Failure.Retryable);
    }

    [Fact]
    public async Task The_job_process_gets_the_job_file_its_work_folder_and_the_jobs_trace()
    {
        const string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        await using var h = await StartAsync(TrainerScripts.Record, trace);

        var finished = await Wait.UntilAsync(() => Task.FromResult(h.Runner.Finished.Count > 0 ? h.Runner.Finished[0] : null), TimeSpan.FromSeconds(30), "the job to end");
        Assert.Equal(0, finished.ExitCode);

        var args = (await File.ReadAllTextAsync(_folder.File("args.txt"))).Trim().Split(' ');
        Assert.Equal("run", args[0]);
        Assert.Equal("--job-file", args[1]);
        var fromFile = RmtJson.ParseJob(await File.ReadAllTextAsync(args[2]), args[2]);
        Assert.Equal(h.Job, fromFile);
        Assert.Equal(["--work-dir", Path.Combine(_folder.File("jobs"), "work"), "--cancel-poll", "1"], args[3..]);

        // The child continues the job's trace (under the runner's span when one is recorded).
        var childTrace = (await File.ReadAllTextAsync(_folder.File("traceparent.txt"))).Trim();
        Assert.Equal(trace.Split('-')[1], childTrace.Split('-')[1]);
        // A job that ends by itself reports for itself: the runner adds nothing.
        Assert.Empty(await h.Cloud.Events.DrainAsync(h.Job.RunId, _ => Task.CompletedTask));
    }
}

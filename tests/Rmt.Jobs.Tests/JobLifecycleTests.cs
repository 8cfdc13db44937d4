using Rmt.Contracts;
using Rmt.Training.Checkpoints;

namespace Rmt.Jobs.Tests;

/// <summary>The whole job against a real Azurite and a tiny model on the CPU: events, checkpoints,
/// metrics and report; resume after a kill; one claimant per job; fallback from a corrupted
/// checkpoint; graceful stops.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class JobLifecycleTests(AzuriteFixture azurite)
{
    private static readonly StageEventKind Progress = StageEventKind.Progress;

    [Fact]
    public async Task A_job_message_leads_to_the_full_event_sequence_a_verified_checkpoint_metrics_and_a_report()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("full");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        await harness.Cloud.Jobs.SendAsync(TinyJobs.Pretrain(runId, steps: 5, checkpointEvery: 3)); // checkpoints at 3 and at the end

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(TinyJobs.Executors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Done, outcome.ExitCode);
        var events = await harness.DrainAsync(runId);
        Assert.Equal(
            [StageEventKind.Accepted, StageEventKind.Started, Progress, Progress, Progress, StageEventKind.CheckpointSaved,
             Progress, Progress, StageEventKind.CheckpointSaved, StageEventKind.Completed],
            events.Select(e => e.Kind));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal([1L, 2, 3, 4, 5], events.Where(e => e.Kind == Progress).Select(e => e.Progress!.Step));
        Assert.All(events.Where(e => e.Kind == Progress), e => Assert.True(e.Progress!.Loss > 0 && e.Progress.TokensPerSecond > 0));
        Assert.Contains("starting from step 0", events[1].Message, StringComparison.Ordinal);

        var completed = events[^1].Result!;
        Assert.Equal(new CheckpointRef(BlobLayout.Checkpoint(runId, "pretrain", 5), 5), completed.Checkpoint);
        Assert.Equal(BlobLayout.StageReport(runId, "pretrain"), completed.ReportUri);
        Assert.Equal(BlobLayout.StageMetrics(runId, "pretrain"), completed.MetricsUri);
        Assert.True(completed.Metrics!["validation_loss"] > 0);
        Assert.Equal(5, completed.Metrics["steps"]);

        var local = Path.Combine(harness.WorkRoot, "verify");
        var manifest = await harness.Store.DownloadCheckpointAsync(completed.Checkpoint!.Uri, local);
        Assert.Equal(5, manifest.Step);
        foreach (var file in new[] { "config.json", "model.safetensors", "trainer_state.json", "optimizer.bin", JobBlobs.JobFileName })
            Assert.Contains(manifest.Files, f => f.Path == file);
        Assert.Equal(5, Checkpoint.ReadState(local)!.Step);
        Assert.Equal(runId, RmtJson.ParseJob(File.ReadAllText(Path.Combine(local, JobBlobs.JobFileName)), "stage_job.json").RunId);

        var metrics = (await harness.Store.ReadTextAsync(BlobLayout.StageMetrics(runId, "pretrain")))!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([1L, 2, 3, 4, 5], metrics.Select(l => JobsJson.TryParse<MetricsLine>(l)!.Step));
        var report = await harness.Store.ReadTextAsync(BlobLayout.StageReport(runId, "pretrain"));
        Assert.Contains($"# Stage report: pretrain (pretrain) of run {runId}", report, StringComparison.Ordinal);
        Assert.Contains("| validation_loss |", report, StringComparison.Ordinal);
        Assert.Contains("## Sample (greedy)", report, StringComparison.Ordinal);
        Assert.Contains("| precision | fp32 (cpu computes in float32) |", report, StringComparison.Ordinal);
        Assert.Contains("![progress-loss](plots/progress-loss.png)", report, StringComparison.Ordinal);
        Assert.True(await harness.Store.ExistsAsync(JobBlobs.Plot(runId, "pretrain", "progress-loss.png")));

        // A later attempt of a completed stage (its completed event was lost) republishes the result and trains nothing.
        var again = await harness.Runner(TinyJobs.Executors).RunJsonAsync(RmtJson.Serialize(TinyJobs.Pretrain(runId, attempt: 2, steps: 5, checkpointEvery: 3)), "retry", stop, CancellationToken.None);
        Assert.Equal(JobExitCode.Done, again.ExitCode);
        var second = await harness.DrainAsync(runId);
        Assert.Equal([StageEventKind.Accepted, StageEventKind.Completed], second.Select(e => e.Kind));
        Assert.Equal(completed.Checkpoint, second[1].Result!.Checkpoint);
        Assert.Equal([5L, 3], (await harness.Store.ListCheckpointsAsync(runId, "pretrain")).Select(c => c.Step));
    }

    [Fact]
    public async Task A_claimed_job_heartbeats_until_it_ends_and_a_killed_job_falls_silent()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("beat");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        using var stop = new JobStopSignal();
        var beat = TimeSpan.FromMilliseconds(25);

        var outcome = await harness.Runner(TinyJobs.Executors, heartbeat: beat)
            .RunJsonAsync(RmtJson.Serialize(TinyJobs.Pretrain(runId, steps: 4)), "beating", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Done, outcome.ExitCode);
        var events = await harness.DrainAsync(runId);
        Assert.Equal(StageEventKind.Accepted, events[0].Kind);
        Assert.Equal(StageEventKind.Completed, events[^1].Kind);
        Assert.Contains(events, e => e.Kind == StageEventKind.Heartbeat); // the stage takes far longer than 25 ms
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence)); // one numbering: no gaps
        await Task.Delay(beat * 8);
        Assert.Empty(await harness.DrainAsync(runId)); // the beat ended with the attempt

        // A hard kill (lost container) stops the beat too: the orchestration sees the attempt go stale.
        var killedRun = TinyJobs.RunId("beat-kill");
        await TinyJobs.UploadCorpusAsync(harness.Store, killedRun);
        using var kill = new CancellationTokenSource();
        var runner = harness.Runner(TinyJobs.Executors, onEvent: e =>
        {
            if (e.Kind == StageEventKind.Heartbeat) kill.Cancel();
        }, heartbeat: beat);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            runner.RunJsonAsync(RmtJson.Serialize(TinyJobs.Pretrain(killedRun, steps: 200)), "killed", stop, kill.Token));
        Assert.Contains(await harness.DrainAsync(killedRun), e => e.Kind == StageEventKind.Heartbeat);
        await Task.Delay(beat * 8);
        Assert.Empty(await harness.DrainAsync(killedRun));
    }

    [Fact]
    public async Task A_job_killed_mid_stage_resumes_from_its_last_checkpoint_on_the_next_attempt_and_completes()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("kill");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        var killed = await harness.KillAfterCheckpointAsync(TinyJobs.Pretrain(runId), step: 3); // dies right after step 3 is uploaded
        Assert.Equal([1L, 2, 3], killed.Where(e => e.Kind == Progress).Select(e => e.Progress!.Step));
        Assert.DoesNotContain(killed, e => e.IsTerminal);   // a kill publishes nothing

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(TinyJobs.Executors).RunJsonAsync(RmtJson.Serialize(TinyJobs.Pretrain(runId, attempt: 2)), "attempt 2", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Done, outcome.ExitCode);
        Assert.Equal(3, outcome.ResumedFromStep);
        var resumed = await harness.DrainAsync(runId);
        Assert.All(resumed, e => Assert.Equal(2, e.Attempt));
        Assert.Equal(1, resumed[0].Sequence);
        var started = Assert.Single(resumed, e => e.Kind == StageEventKind.Started);
        Assert.Equal(3, started.Progress!.Step);
        Assert.Contains("resuming from step 3", started.Message, StringComparison.Ordinal);
        Assert.Equal([4L, 5, 6], resumed.Where(e => e.Kind == Progress).Select(e => e.Progress!.Step)); // the step counter continues
        Assert.Equal(6, resumed[^1].Result!.Checkpoint!.Step);
        var local = Path.Combine(harness.WorkRoot, "verify");
        await harness.Store.DownloadCheckpointAsync(BlobLayout.Checkpoint(runId, "pretrain", 6), local);
        Assert.Equal(6, Checkpoint.ReadState(local)!.Step);
        var metrics = (await harness.Store.ReadTextAsync(BlobLayout.StageMetrics(runId, "pretrain")))!
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JobsJson.TryParse<MetricsLine>(l)!).ToList();
        Assert.Equal([(1L, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2)], metrics.Select(m => (m.Step, m.Attempt)));
    }

    [Fact]
    public async Task The_same_job_delivered_twice_is_trained_by_one_claimant_only()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("twice");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        var job = TinyJobs.Pretrain(runId, steps: 2, checkpointEvery: 2);
        await harness.Cloud.Jobs.SendAsync(job);
        await harness.Cloud.Jobs.SendAsync(job);
        using var stop = new JobStopSignal();

        var outcomes = await Task.WhenAll(
            Task.Run(() => harness.Runner(TinyJobs.Executors, host: "host-a").RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None)),
            Task.Run(() => harness.Runner(TinyJobs.Executors, host: "host-b").RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None)));

        Assert.Equal([JobExitCode.Done, JobExitCode.ClaimedByOther], outcomes.Select(o => o.ExitCode).Order());
        var events = await harness.DrainAsync(runId);
        Assert.Single(events, e => e.Kind == StageEventKind.Accepted);
        Assert.Single(events, e => e.Kind == StageEventKind.Completed);
        Assert.Contains(harness.Log.Lines, l => l.Contains($"job {job.MessageId} is already claimed by host host-", StringComparison.Ordinal)
                                                && l.Contains("backs off without training", StringComparison.Ordinal));
        Assert.Null(await harness.Cloud.Jobs.ReceiveAsync(TimeSpan.Zero));   // both deliveries settled
    }

    [Fact]
    public async Task A_corrupted_newest_checkpoint_falls_back_to_the_previous_valid_one_and_says_so()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("corrupt");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        await harness.KillAfterCheckpointAsync(TinyJobs.Pretrain(runId, steps: 6, checkpointEvery: 2), step: 4);
        using var stop = new JobStopSignal();
        var weights = (await harness.Store.ListAsync(BlobLayout.Checkpoint(runId, "pretrain", 4) + "/"))
            .Single(p => p.EndsWith("/model.safetensors", StringComparison.Ordinal));
        await harness.Store.WriteTextAsync(weights, "not the weights any more");

        var outcome = await harness.Runner(TinyJobs.Executors).RunJsonAsync(
            RmtJson.Serialize(TinyJobs.Pretrain(runId, attempt: 2, steps: 6, checkpointEvery: 2)), "attempt 2", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Done, outcome.ExitCode);
        Assert.Equal(2, outcome.ResumedFromStep);
        var events = await harness.DrainAsync(runId);
        var started = Assert.Single(events, e => e.Kind == StageEventKind.Started);
        Assert.Equal(2, started.Progress!.Step);
        Assert.Contains("resuming from step 2", started.Message, StringComparison.Ordinal);
        Assert.Contains($"fell back because checkpoint {BlobLayout.Checkpoint(runId, "pretrain", 4)} (step 4) failed verification", started.Message, StringComparison.Ordinal);
        Assert.Contains("corrupted", started.Message, StringComparison.Ordinal);
        Assert.Contains(harness.Log.Lines, l => l.StartsWith("Warning:", StringComparison.Ordinal) && l.Contains("falling back to the previous checkpoint", StringComparison.Ordinal));
        Assert.Equal([3L, 4, 5, 6], events.Where(e => e.Kind == Progress).Select(e => e.Progress!.Step));
        // The corrupted step-4 is replaced by attempt 2's copy, and says so.
        Assert.Equal([4L, 6], events.Where(e => e.Kind == StageEventKind.CheckpointSaved).Select(e => e.Checkpoint!.Step));
        Assert.Contains(harness.Log.Lines, l => l.Contains("is corrupted; replacing it with this attempt's copy", StringComparison.Ordinal));
        await harness.Store.DownloadCheckpointAsync(BlobLayout.Checkpoint(runId, "pretrain", 4), Path.Combine(harness.WorkRoot, "verify-4"));
        Assert.Equal(6, events[^1].Result!.Checkpoint!.Step);
        var report = await harness.Store.ReadTextAsync(BlobLayout.StageReport(runId, "pretrain"));
        Assert.Contains("fell back because", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SIGTERM_saves_a_checkpoint_and_publishes_a_retryable_cancel()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("sigterm");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        using var stop = new JobStopSignal();
        var runner = harness.Runner(TinyJobs.Executors, onEvent: e =>
        {
            if (e.Kind == Progress && e.Progress!.Step == 2) stop.Request(StopReason.Preempted, "stopped by SIGTERM");
        });

        var outcome = await runner.RunJsonAsync(RmtJson.Serialize(TinyJobs.Pretrain(runId, checkpointEvery: 100)), "job", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Cancelled, outcome.ExitCode);
        Assert.Equal(130, outcome.ProcessExitCode);
        var events = await harness.DrainAsync(runId);
        Assert.Equal([StageEventKind.CheckpointSaved, StageEventKind.Failed], events.TakeLast(2).Select(e => e.Kind));
        var failed = events[^1];
        Assert.Equal((FailureKind.Cancelled, true), (failed.Failure!.Kind, failed.Failure.Retryable));
        Assert.Contains("SIGTERM", failed.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(2, failed.Checkpoint!.Step);
        Assert.Equal([2L], (await harness.Store.ListCheckpointsAsync(runId, "pretrain")).Select(c => c.Step));
    }

    [Fact]
    public async Task The_cancel_marker_stops_the_job_with_a_checkpoint_and_no_retry()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("cancel");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        using var stop = new JobStopSignal();
        var poll = TimeSpan.FromMilliseconds(100);
        var runner = harness.Runner(TinyJobs.Executors, cancelPoll: poll, onEvent: e =>
        {
            if (e.Kind != Progress || e.Progress!.Step != 1) return;
            harness.Store.WriteTextAsync(BlobLayout.CancelMarker(runId), "cancelled by alice").GetAwaiter().GetResult();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!stop.IsRequested && DateTime.UtcNow < deadline) Thread.Sleep(poll); // the watcher sees it within a poll
        });

        var outcome = await runner.RunJsonAsync(RmtJson.Serialize(TinyJobs.Pretrain(runId, checkpointEvery: 100)), "job", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Cancelled, outcome.ExitCode);
        var failed = (await harness.DrainAsync(runId))[^1];
        Assert.Equal((StageEventKind.Failed, FailureKind.Cancelled, false), (failed.Kind, failed.Failure!.Kind, failed.Failure.Retryable));
        Assert.Contains("cancelled by alice", failed.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, failed.Checkpoint!.Step);
    }

    [Fact]
    public async Task A_missing_dataset_fails_as_invalid_input_naming_the_blob()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("nodata");
        using var stop = new JobStopSignal();

        var outcome = await harness.Runner(TinyJobs.Executors).RunJsonAsync(
            RmtJson.Serialize(TinyJobs.Pretrain(runId, dataset: "datasets/nowhere/corpus.txt")), "job", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.FailedPermanent, outcome.ExitCode);
        var failed = (await harness.DrainAsync(runId))[^1];
        Assert.Equal((FailureKind.InvalidInput, false), (failed.Failure!.Kind, failed.Failure.Retryable));
        Assert.Contains("datasets/nowhere/corpus.txt", failed.Failure.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", failed.Failure.Message, StringComparison.Ordinal);
    }
}

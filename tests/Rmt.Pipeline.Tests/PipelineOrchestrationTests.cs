using System.Diagnostics;
using Microsoft.DurableTask.Client;
using Rmt.Contracts;
using Rmt.Pipeline.Http;
using Rmt.Pipeline.Tests.Fakes;
using static Rmt.Pipeline.Tests.Fakes.FakeTrainer;

namespace Rmt.Pipeline.Tests;

/// <summary>The real orchestrators and activities on the in-process durable host, driven by a fake
/// trainer that answers dispatched jobs with stage events.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class PipelineOrchestrationTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Happy_path_runs_every_stage_in_order_and_writes_request_events_report_and_manifest()
    {
        var release = new TaskCompletionSource();
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage != PipelineStages.MidTrain)
            {
                await t.CompleteAsync(job);
                return;
            }
            await t.PublishAsync(Event(job, 1, StageEventKind.Accepted), Event(job, 2, StageEventKind.Progress) with { Progress = Progress(5) });
            await release.Task.WaitAsync(t.Stopping);
            await t.WaitForDrainsAsync(5); // more polls than one generation holds: the stage must continue as new
            await t.CompleteAsync(job with { });
        });
        using var trace = new Activity("test-request").SetIdFormat(ActivityIdFormat.W3C).Start();

        var runId = await host.SubmitAsync(PipelineTestHost.Request("happy"));
        var running = await host.WaitForStatusAsync(runId, v => v.Stage == PipelineStages.MidTrain && v.Progress is not null);
        release.SetResult();
        var done = await host.WaitAsync(runId);

        Assert.Equal("running", running.Status);
        Assert.Equal(1, running.Attempt);
        Assert.Equal(5, running.Progress!.Step);
        AssertCompleted(done);
        var output = done.ReadOutputAs<PipelineOutput>()!;
        Assert.Equal(Outcomes.Completed, output.Status);
        Assert.Equal(
            [PipelineStages.Pretrain, PipelineStages.MidTrain, PipelineStages.MidTrainEval, PipelineStages.PostTrain, PipelineStages.PostTrainEval],
            output.Stages.Select(s => s.Stage));
        Assert.All(output.Stages, s => Assert.Equal((Outcomes.Completed, 1), (s.Status, s.Attempts)));

        // Each stage starts from the previous one's checkpoint; post-training from the mid-training checkpoint.
        var jobs = host.Queue.Sent;
        Assert.Equal(5, jobs.Count);
        Assert.Null(jobs[0].BaseCheckpoint);
        Assert.Equal(BlobLayout.Checkpoint(runId, PipelineStages.Pretrain, 10), jobs[1].BaseCheckpoint);
        Assert.Equal(BlobLayout.Checkpoint(runId, PipelineStages.MidTrain, 10), jobs[2].BaseCheckpoint);
        Assert.Equal(BlobLayout.Checkpoint(runId, PipelineStages.MidTrain, 10), jobs[3].BaseCheckpoint);
        Assert.Equal(BlobLayout.Checkpoint(runId, PipelineStages.PostTrain, 10), jobs[4].BaseCheckpoint);
        Assert.Equal([StageKind.Pretrain, StageKind.MidTrain, StageKind.Eval, StageKind.PostTrain, StageKind.Eval], jobs.Select(j => j.Kind));

        // One trace follows the run: the submitting request's trace id is in every job.
        Assert.All(jobs, j => Assert.Equal(trace.TraceId.ToHexString(), PipelineTelemetry.TraceIdOf(j.TraceParent)));

        var request = RmtJson.ParseRequest((await host.Store.ReadTextAsync(BlobLayout.RunRequest(runId)))!, "request.json");
        Assert.Equal(runId, request.RunId);
        var events = (await host.Store.ReadTextAsync(BlobLayout.RunEvents(runId)))!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4 * 5 + 7, events.Length); // mid-train repeats sequences 1 and 2 in a later drain: the log keeps what was sent
        Assert.All(events, line => RmtJson.ParseEvent(line, "events.jsonl"));

        var report = (await host.Store.ReadTextAsync(BlobLayout.RunReport(runId)))!;
        Assert.Contains("| RMT (this run) | 80.00 | 50.00 | 25.00 | 51.25 | 18.0 |", report);
        Assert.Contains("| NTP (argmax, no reasoning) | - | - | 10.00 | 30.00 | - |", report);
        Assert.Contains("| RMT (this run) | 10.00 | 30.00 | +20.00 | 40.0 |", report);
        Assert.Contains("![loss](mid-train/plots/loss.png)", report);

        var manifest = RmtJson.Parse<RunManifest>((await host.Store.ReadTextAsync(BlobLayout.RunManifest(runId)))!, "manifest.json");
        Assert.Equal(5, manifest.Stages.Count);
        Assert.Equal(BlobLayout.Checkpoint(runId, PipelineStages.PostTrain, 10), manifest.Stages[3].Checkpoint!.Uri);
        Assert.Contains(manifest.Files, f => f.Path == BlobLayout.RunReport(runId) && f.Sha256.Length == 64);

        var final = await host.WaitForStatusAsync(runId, v => v.Status == "completed");
        Assert.Equal(BlobLayout.RunReport(runId), final.Output!.ReportUri);
        var completed = PipelineApiJson.Deserialize<PipelineList>((await host.Handlers.ListAsync("completed")).Json!);
        Assert.Contains(completed.Items, i => i.Id == runId);
        Assert.Empty(PipelineApiJson.Deserialize<PipelineList>((await host.Handlers.ListAsync("running")).Json!).Items);
    }

    [Fact]
    public async Task A_request_with_a_base_checkpoint_skips_pretraining()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite);

        var runId = await host.SubmitAsync(PipelineTestHost.Request("with-base", baseCheckpoint: "checkpoints/hf/tiny/step-0"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        Assert.Equal(PipelineStages.MidTrain, host.Queue.Sent[0].Stage);
        Assert.Equal("checkpoints/hf/tiny/step-0", host.Queue.Sent[0].BaseCheckpoint);
        Assert.Empty(host.JobsOf(PipelineStages.Pretrain));
    }

    [Fact]
    public async Task A_retryable_failure_is_retried_and_a_late_event_of_the_failed_attempt_is_ignored()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage != PipelineStages.MidTrain) await t.CompleteAsync(job);
            else if (job.Attempt == 1)
                await t.PublishAsync(Event(job, 1, StageEventKind.Started), Failed(job, 2, retryable: true, "node preempted"));
            else
            {
                // A zombie of attempt 1 still talks; attempt 2 must not take its word.
                await t.PublishAsync(Failed(job with { Attempt = 1 }, 3, retryable: false, "zombie"));
                await t.CompleteAsync(job);
            }
        });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("retry"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 2), (midTrain.Status, midTrain.Attempts));
        Assert.Equal([1, 2], host.JobsOf(PipelineStages.MidTrain).Select(j => j.Attempt));
        Assert.Single(host.JobsOf(PipelineStages.PostTrain));
    }

    [Fact]
    public async Task A_stage_that_fails_on_every_attempt_fails_the_run_with_every_reason_and_still_reports()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage == PipelineStages.MidTrain) await t.PublishAsync(Failed(job, 1, retryable: true, $"disk full on try {job.Attempt}"));
            else await t.CompleteAsync(job);
        });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("exhausted"));
        var done = await host.WaitAsync(runId);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        var message = done.FailureDetails!.ErrorMessage;
        Assert.Contains("stage 'mid-train' failed: all 3 attempts were used", message);
        Assert.Contains("disk full on try 1", message);
        Assert.Contains("disk full on try 3", message);
        Assert.Equal([1, 2, 3], host.JobsOf(PipelineStages.MidTrain).Select(j => j.Attempt));
        Assert.Empty(host.JobsOf(PipelineStages.PostTrain));
        // Every attempt given up has its stop marker: a message of this dead stage still queued never trains.
        foreach (var attempt in new[] { 1, 2, 3 })
            Assert.Contains($"disk full on try {attempt}", await host.Store.ReadTextAsync(BlobLayout.AttemptStopMarker(runId, PipelineStages.MidTrain, attempt)));
        Assert.Contains("Status: **failed**", (await host.Store.ReadTextAsync(BlobLayout.RunReport(runId)))!);
        var view = await host.WaitForStatusAsync(runId, v => v.Status == "failed");
        Assert.Contains("all 3 attempts", view.Failure);
    }

    [Fact]
    public async Task Resubmitting_a_failed_run_id_dispatches_fresh_attempt_numbers_and_completes()
    {
        var midTrainFails = true;
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage == PipelineStages.MidTrain && Volatile.Read(ref midTrainFails)) await t.PublishAsync(Failed(job, 1, retryable: true, "spot VM evicted"));
            else await t.CompleteAsync(job);
        }, PipelineTestHost.FastMonitor with { MaxAttempts = 2 });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("resubmitted"));
        Assert.Equal(OrchestrationRuntimeStatus.Failed, (await host.WaitAsync(runId)).RuntimeStatus);
        Volatile.Write(ref midTrainFails, false);
        await host.SubmitAsync(PipelineTestHost.Request("resubmitted"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        // Attempts 1 and 2 belong to the first submission (their claims exist); the second one takes 3.
        Assert.Equal([1, 2, 3], host.JobsOf(PipelineStages.MidTrain).Select(j => j.Attempt));
        Assert.Equal([1, 2], host.JobsOf(PipelineStages.Pretrain).Select(j => j.Attempt));
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 1), (midTrain.Status, midTrain.Attempts));
    }

    [Fact]
    public async Task A_finished_run_id_is_not_reused_for_another_request()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite);
        var runId = await host.SubmitAsync(PipelineTestHost.Request("reused"));
        AssertCompleted(await host.WaitAsync(runId));
        var other = PipelineTestHost.Request("reused") with { MidTrain = new MidTrainConfig(NtpWeight: 0.5) };

        var refused = await host.Handlers.SubmitAsync(other, "http://localhost/api");

        Assert.Equal(409, refused.StatusCode);
        Assert.Contains("midTrain differ", refused.Json, StringComparison.Ordinal);
        // Without the durable history (purged), the recorded request.json still refuses it.
        await host.Client.PurgeInstanceAsync(runId);
        await host.SubmitAsync(other);
        var failed = await host.WaitAsync(runId);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, failed.RuntimeStatus);
        Assert.Contains("was first submitted with another request (midTrain differ", failed.FailureDetails!.ErrorMessage, StringComparison.Ordinal);
        // The same request again is a resume, and is accepted.
        await host.Client.PurgeInstanceAsync(runId);
        await host.SubmitAsync(PipelineTestHost.Request("reused"));
        AssertCompleted(await host.WaitAsync(runId));
    }

    [Fact]
    public async Task An_event_stream_outage_longer_than_the_old_retries_does_not_fail_the_run()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage != PipelineStages.MidTrain)
            {
                await t.CompleteAsync(job);
                return;
            }
            await t.PublishAsync(Event(job, 1, StageEventKind.Accepted));
            await t.WaitForDrainsAsync(1);
            t.Events.OutageUntil = DateTime.UtcNow.AddSeconds(3); // the job keeps training meanwhile
            await t.CompleteAsync(job);
        }, PipelineTestHost.FastMonitor with { StageTimeout = TimeSpan.FromSeconds(30) });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("outage"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        Assert.True(host.Events.FailedDrains > 3, $"only {host.Events.FailedDrains} drains failed; the outage did not happen");
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 1), (midTrain.Status, midTrain.Attempts));
        // In production the same policy rides out two minutes; a 60 s outage never fails a run.
        Assert.True(ActivityOptions.TotalWait(MonitorSettings.From(null)) >= TimeSpan.FromSeconds(90));
        Assert.True(ActivityOptions.TotalWait(MonitorSettings.From(null)) <= TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Preempted_attempts_resume_without_using_up_max_attempts()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage == PipelineStages.MidTrain && job.Attempt <= 2)
                await t.PublishAsync(Event(job, 1, StageEventKind.Started), Failed(job, 2, retryable: true) with
                {
                    Failure = new StageFailure(FailureKind.Cancelled, "stopped by SIGTERM (the platform took the machine back)", Retryable: true),
                });
            else
                await t.CompleteAsync(job);
        }, PipelineTestHost.FastMonitor with { MaxAttempts = 1 });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("preempted"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        Assert.Equal([1, 2, 3], host.JobsOf(PipelineStages.MidTrain).Select(j => j.Attempt));
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 1), (midTrain.Status, midTrain.Attempts));
    }

    [Fact]
    public async Task A_non_retryable_failure_is_not_retried()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage == PipelineStages.Pretrain) await t.PublishAsync(Failed(job, 1, retryable: false, "dataset has no text"));
            else await t.CompleteAsync(job);
        });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("final"));
        var done = await host.WaitAsync(runId);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        Assert.Contains("the failure is not retryable", done.FailureDetails!.ErrorMessage);
        Assert.Contains("dataset has no text", done.FailureDetails.ErrorMessage);
        Assert.Single(host.JobsOf(PipelineStages.Pretrain));
        Assert.Empty(host.JobsOf(PipelineStages.MidTrain));
    }

    [Fact]
    public async Task A_silent_attempt_times_out_and_the_next_attempt_completes()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage == PipelineStages.MidTrain && job.Attempt == 1)
                await t.PublishAsync(Event(job, 1, StageEventKind.Accepted)); // then the job goes silent
            else if (job.Stage == PipelineStages.MidTrain)
            {
                // Attempt 1's stop marker was written before attempt 2 was dispatched.
                Assert.True(await t.Store.ExistsAsync(BlobLayout.AttemptStopMarker(job.RunId, job.Stage, 1)));
                await t.CompleteAsync(job);
            }
            else
                await t.CompleteAsync(job);
        });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("timeout"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 2), (midTrain.Status, midTrain.Attempts));
        Assert.Equal([1, 2], host.JobsOf(PipelineStages.MidTrain).Select(j => j.Attempt));
        Assert.Empty(host.Trainer.Errors);
        Assert.Contains("attempt 1 timed out", await host.Store.ReadTextAsync(BlobLayout.AttemptStopMarker(runId, PipelineStages.MidTrain, 1)));
        Assert.False(await host.Store.ExistsAsync(BlobLayout.AttemptStopMarker(runId, PipelineStages.MidTrain, 2))); // the completed one
    }

    /// <summary>The production shape at test speed: a stage timeout of an hour (covers the wait for a GPU),
    /// a heartbeat timeout of seconds (production: minutes).</summary>
    private static readonly MonitorSettings HeartbeatMonitor =
        PipelineTestHost.FastMonitor with { StageTimeout = TimeSpan.FromHours(1), HeartbeatTimeout = TimeSpan.FromSeconds(2) };

    [Fact]
    public async Task A_claimed_attempt_that_goes_silent_is_retried_on_its_stale_heartbeat_long_before_the_stage_timeout()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage == PipelineStages.MidTrain && job.Attempt == 1)
            {
                // Claimed, trained a little, then the process hangs or dies: nothing more, not even heartbeats.
                await t.PublishAsync(Event(job, 1, StageEventKind.Accepted), Event(job, 2, StageEventKind.Heartbeat),
                    Event(job, 3, StageEventKind.Progress) with { Progress = Progress(4) });
            }
            else
                await t.CompleteAsync(job);
        }, HeartbeatMonitor);
        var clock = Stopwatch.StartNew();

        var runId = await host.SubmitAsync(PipelineTestHost.Request("stale"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), $"took {clock.Elapsed}"); // the 1 h stage timeout never fired
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 2), (midTrain.Status, midTrain.Attempts));
        Assert.Equal([1, 2], host.JobsOf(PipelineStages.MidTrain).Select(j => j.Attempt));
        Assert.Empty(host.Trainer.Errors);
        var marker = await host.Store.ReadTextAsync(BlobLayout.AttemptStopMarker(runId, PipelineStages.MidTrain, 1));
        Assert.Contains("attempt 1 went silent after it was claimed: no heartbeat or event for 2 s (after 3 events, last at step 4/10)", marker);
    }

    [Fact]
    public async Task Queue_wait_before_a_claim_and_a_heartbeating_job_are_not_stale()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage != PipelineStages.MidTrain)
            {
                await t.CompleteAsync(job);
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(5), t.Stopping); // waiting for a GPU: more than twice the heartbeat timeout
            var sequence = 0L;
            await t.PublishAsync(Event(job, ++sequence, StageEventKind.Accepted));
            for (var beat = 0; beat < 20; beat++) // a long step: 5 s without progress, only heartbeats
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), t.Stopping);
                await t.PublishAsync(Event(job, ++sequence, StageEventKind.Heartbeat));
            }
            await t.PublishAsync(Completed(job, ++sequence));
        }, HeartbeatMonitor);

        var runId = await host.SubmitAsync(PipelineTestHost.Request("slow-start"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 1), (midTrain.Status, midTrain.Attempts));
        Assert.Equal([1], host.JobsOf(PipelineStages.MidTrain).Select(j => j.Attempt));
        Assert.False(await host.Store.ExistsAsync(BlobLayout.AttemptStopMarker(runId, PipelineStages.MidTrain, 1)));
    }

    [Fact]
    public async Task Silence_on_every_attempt_fails_the_run_naming_the_timeout()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite,
            async (job, t) =>
            {
                if (job.Stage != PipelineStages.Pretrain) await t.CompleteAsync(job);
            },
            PipelineTestHost.FastMonitor with { MaxAttempts = 2, StageTimeout = TimeSpan.FromMilliseconds(500) });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("silent"));
        var done = await host.WaitAsync(runId);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        Assert.Contains("attempt 1 timed out: no stage event for 500 ms", done.FailureDetails!.ErrorMessage);
        Assert.Contains("attempt 2 timed out", done.FailureDetails.ErrorMessage);
    }

    [Fact]
    public async Task Cancel_writes_the_marker_stops_the_stage_skips_the_rest_and_reports_cancelled()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage != PipelineStages.MidTrain)
            {
                await t.CompleteAsync(job);
                return;
            }
            await t.PublishAsync(Event(job, 1, StageEventKind.Progress) with { Progress = Progress(3) });
            await t.WaitForCancelMarkerAsync(job); // the real job checks the marker between steps
            await t.PublishAsync(Failed(job, 2, retryable: false, "cancelled") with
            {
                Failure = new StageFailure(FailureKind.Cancelled, "stopped by the cancel marker", false),
            });
        });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("cancel-me"));
        await host.WaitForStatusAsync(runId, v => v.Stage == PipelineStages.MidTrain && v.Progress?.Step == 3);
        var cancel = await host.Handlers.CancelAsync(runId, "user changed their mind");
        var done = await host.WaitAsync(runId);

        Assert.Equal(202, cancel.StatusCode);
        AssertCompleted(done);
        var output = done.ReadOutputAs<PipelineOutput>()!;
        Assert.Equal(Outcomes.Cancelled, output.Status);
        Assert.Contains("user changed their mind", output.Reason);
        Assert.Equal([Outcomes.Completed, Outcomes.Cancelled], output.Stages.Select(s => s.Status));
        Assert.True(await host.Store.ExistsAsync(BlobLayout.CancelMarker(runId)));
        Assert.Empty(host.JobsOf(PipelineStages.PostTrain));
        Assert.Equal("cancelled", (await host.WaitForStatusAsync(runId, v => v.Status == "cancelled")).Status);
        Assert.Equal(409, (await host.Handlers.CancelAsync(runId)).StatusCode);

        // The marker stays, so the cancelled run id cannot start jobs again: a resubmission says so.
        await host.SubmitAsync(PipelineTestHost.Request("cancel-me"));
        var again = await host.WaitAsync(runId);
        Assert.Equal(OrchestrationRuntimeStatus.Failed, again.RuntimeStatus);
        Assert.Contains("belongs to a cancelled run", again.FailureDetails!.ErrorMessage);
    }

    [Fact]
    public async Task Duplicate_and_out_of_order_events_are_folded_once_in_sequence_order()
    {
        await using var host = await PipelineTestHost.StartAsync(azurite, async (job, t) =>
        {
            if (job.Stage != PipelineStages.MidTrain)
            {
                await t.CompleteAsync(job);
                return;
            }
            await t.PublishAsync(
                Event(job, 1, StageEventKind.Accepted),
                Event(job, 4, StageEventKind.Progress) with { Progress = Progress(8, loss: 0.8) },
                Event(job, 3, StageEventKind.Progress) with { Progress = Progress(6, loss: 0.9) },
                Event(job, 3, StageEventKind.Progress) with { Progress = Progress(6, loss: 0.9) });
            await t.WaitForDrainsAsync(2);
            // An older progress event arrives after a newer one was folded, and a duplicate across drains.
            await t.PublishAsync(
                Event(job, 2, StageEventKind.Progress) with { Progress = Progress(4, loss: 1.5) },
                Event(job, 4, StageEventKind.Progress) with { Progress = Progress(8, loss: 0.8) });
            await t.WaitForDrainsAsync(2);
            var completed = Completed(job, 5) with { Progress = null };
            await t.PublishAsync(completed);
            await t.WaitForDrainsAsync(1);
            await t.PublishAsync(completed);
        });

        var runId = await host.SubmitAsync(PipelineTestHost.Request("dupes"));
        var done = await host.WaitAsync(runId);

        AssertCompleted(done);
        var midTrain = done.ReadOutputAs<PipelineOutput>()!.Stages.Single(s => s.Stage == PipelineStages.MidTrain);
        Assert.Equal((Outcomes.Completed, 1), (midTrain.Status, midTrain.Attempts));
        Assert.Equal(8, midTrain.LastProgress!.Step); // the late step-4 event did not roll progress back
        Assert.Single(host.JobsOf(PipelineStages.MidTrain));
    }

    private static void AssertCompleted(OrchestrationMetadata done) =>
        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed,
            $"run {done.InstanceId} is {done.RuntimeStatus}: {done.FailureDetails?.ErrorType} {done.FailureDetails?.ErrorMessage} {done.FailureDetails?.StackTrace}");
}

using Rmt.Cloud.Faults;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;

namespace Rmt.Jobs.Tests;

/// <summary>Faults of the job's lifecycle that once lost work, stalled a stage or let two attempts race:
/// a claim whose reply was lost after Blob Storage created it, a corrupt final checkpoint, and an
/// attempt the orchestration gave up (its stop marker).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class JobFaultTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_claim_whose_reply_was_lost_is_recognised_as_its_own_and_the_job_trains()
    {
        var faults = new FaultInjectionPolicy(FaultInjectionPolicy.Once(m => FaultInjectionPolicy.IsPutOf(m, "/claims/attempt-1.json"), Fault.DropReplyAfterApply));
        await using var harness = JobHarness.Create(azurite, faults);
        var runId = TinyJobs.RunId("claimlost");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        await harness.Cloud.Jobs.SendAsync(TinyJobs.Pretrain(runId, steps: 2, checkpointEvery: 2));
        using var stop = new JobStopSignal();

        var outcome = await harness.Runner(TinyJobs.Executors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(1, faults.Count(Fault.DropReplyAfterApply));
        Assert.Equal(JobExitCode.Done, outcome.ExitCode);
        var events = await harness.DrainAsync(runId);
        Assert.Equal(StageEventKind.Completed, events[^1].Kind);
        Assert.Null(await harness.Cloud.Jobs.ReceiveAsync(TimeSpan.Zero)); // settled once claimed
    }

    [Fact]
    public async Task A_corrupt_final_checkpoint_is_rewritten_by_the_next_attempt_which_ends_done()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("corruptfinal");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        // Attempt 1 dies right after uploading its final checkpoint (step 6), before result.json.
        await harness.KillAfterCheckpointAsync(TinyJobs.Pretrain(runId, steps: 6, checkpointEvery: 2), step: 6);
        using var stop = new JobStopSignal();
        var final = BlobLayout.Checkpoint(runId, "pretrain", 6);
        var weights = (await harness.Store.ListAsync(final + "/")).Single(p => p.EndsWith("/model.safetensors", StringComparison.Ordinal));
        await harness.Store.WriteTextAsync(weights, "not the weights any more");

        var outcome = await harness.Runner(TinyJobs.Executors).RunJsonAsync(
            RmtJson.Serialize(TinyJobs.Pretrain(runId, attempt: 2, steps: 6, checkpointEvery: 2)), "attempt 2", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Done, outcome.ExitCode);
        Assert.Equal(4, outcome.ResumedFromStep);
        var events = await harness.DrainAsync(runId);
        Assert.Equal(new CheckpointRef(final, 6), events[^1].Result!.Checkpoint);
        var local = Path.Combine(harness.WorkRoot, "verify");
        await harness.Store.DownloadCheckpointAsync(final, local); // verifies every file
        Assert.Equal(6, Checkpoint.ReadState(local)!.Step);
        Assert.DoesNotContain(await harness.Store.ListAsync(final + "/"), p => p == weights); // the corrupt copy is gone
    }

    [Fact]
    public async Task An_attempt_given_up_by_the_orchestration_stops_without_writing_its_next_checkpoint()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("superseded");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        using var stop = new JobStopSignal();
        // The orchestration times attempt 1 out while it trains step 3 and dispatches attempt 2.
        var runner = harness.Runner(TinyJobs.Executors, onEvent: e =>
        {
            if (e.Kind == StageEventKind.Progress && e.Progress!.Step == 3)
                harness.Store.TryCreateTextAsync(BlobLayout.AttemptStopMarker(runId, "pretrain", 1), "attempt 1 timed out").GetAwaiter().GetResult();
        });

        var outcome = await runner.RunJsonAsync(RmtJson.Serialize(TinyJobs.Pretrain(runId, steps: 6, checkpointEvery: 2)), "attempt 1", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Superseded, outcome.ExitCode);
        Assert.Contains("attempt 1 timed out", outcome.Summary, StringComparison.Ordinal);
        Assert.Equal([2L], (await harness.Store.ListCheckpointsAsync(runId, "pretrain")).Select(c => c.Step)); // no step 4
        var events = await harness.DrainAsync(runId);
        Assert.Equal([2L], events.Where(e => e.Kind == StageEventKind.CheckpointSaved).Select(e => e.Checkpoint!.Step));
        Assert.Equal((FailureKind.Cancelled, false), (events[^1].Failure!.Kind, events[^1].Failure!.Retryable));
        Assert.Null(await harness.Store.ReadTextAsync(JobBlobs.StageResult(runId, "pretrain")));
    }

    [Fact]
    public async Task A_queued_job_of_a_given_up_attempt_exits_without_claiming_or_training()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("deadrun");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        await harness.Cloud.Jobs.SendAsync(TinyJobs.Pretrain(runId, steps: 2));
        await harness.Store.TryCreateTextAsync(BlobLayout.AttemptStopMarker(runId, "pretrain", 1), "stage 'pretrain' failed: all 3 attempts were used");
        using var stop = new JobStopSignal();

        var outcome = await harness.Runner(TinyJobs.Executors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Superseded, outcome.ExitCode);
        Assert.Empty(await harness.DrainAsync(runId));
        Assert.False(await harness.Store.ExistsAsync(BlobLayout.Claim(runId, "pretrain", 1)));
        Assert.Empty(await harness.Store.ListCheckpointsAsync(runId, "pretrain"));
        Assert.Null(await harness.Cloud.Jobs.ReceiveAsync(TimeSpan.Zero)); // settled: it never comes back
    }

    /// <summary>Runs <paramref name="job"/> until its checkpoint at <paramref name="step"/> is uploaded, then
    /// kills it (nothing more is saved or published), and drains its events.</summary>
    /// <summary>Attempt 1 of a 6-step pretrain dies right after its step-3 checkpoint.</summary>
    private static Task KillAfterFirstCheckpointAsync(JobHarness harness, string runId) =>
        harness.KillAfterCheckpointAsync(TinyJobs.Pretrain(runId), step: 3);

    [Fact]
    public async Task Resume_refuses_a_checkpoint_saved_under_another_stage_config()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("otherconfig");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        await KillAfterFirstCheckpointAsync(harness, runId);
        var changed = TinyJobs.Pretrain(runId, attempt: 2);
        changed = changed with { Pretrain = changed.Pretrain! with { Schedule = changed.Pretrain.Schedule with { LearningRate = 1e-2 } } };
        using var stop = new JobStopSignal();

        var outcome = await harness.Runner(TinyJobs.Executors).RunJsonAsync(RmtJson.Serialize(changed), "attempt 2", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.FailedPermanent, outcome.ExitCode);
        Assert.Equal(FailureKind.InvalidInput, outcome.Failure!.Kind);
        Assert.Contains("was saved by a job with a different stage config (pretrain differ)", outcome.Summary, StringComparison.Ordinal);
        Assert.Equal([3L], (await harness.Store.ListCheckpointsAsync(runId, "pretrain")).Select(c => c.Step)); // nothing trained on top
    }

    [Fact]
    public async Task A_dataset_replaced_during_a_run_fails_the_next_attempt_instead_of_training_on_other_data()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("datasetpin");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        await KillAfterFirstCheckpointAsync(harness, runId);
        await harness.Store.WriteTextAsync(TinyJobs.DatasetOf(runId), TinyJobs.Corpus().ToUpperInvariant());
        using var stop = new JobStopSignal();

        var outcome = await harness.Runner(TinyJobs.Executors).RunJsonAsync(
            RmtJson.Serialize(TinyJobs.Pretrain(runId, attempt: 2)), "attempt 2", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.FailedPermanent, outcome.ExitCode);
        Assert.Equal(FailureKind.InvalidInput, outcome.Failure!.Kind);
        Assert.Contains($"changed during run '{runId}'", outcome.Summary, StringComparison.Ordinal);
        Assert.Contains(BlobLayout.DatasetPin(runId, TinyJobs.DatasetOf(runId)), outcome.Summary, StringComparison.Ordinal);
    }
}

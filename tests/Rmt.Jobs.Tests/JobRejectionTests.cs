using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs.Tests;

/// <summary>Jobs that must not train: malformed messages and jobs someone else already claimed.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class JobRejectionTests(AzuriteFixture azurite)
{
    private static readonly StageExecutors NoExecutors = new([]);

    [Fact]
    public async Task A_malformed_job_message_publishes_a_failed_event_naming_the_problem_and_goes_to_poison()
    {
        await using var harness = JobHarness.Create(azurite);
        var jobs = (StorageQueueJobQueue)harness.Cloud.Jobs;
        var queue = harness.Cloud.QueueService!.GetQueueClient(jobs.QueueName);
        await queue.CreateIfNotExistsAsync();
        await queue.SendMessageAsync("""{"runId":"bad-run","stage":"mid-train","attempt":1,"kind":"mid-train","outputPrefix":"checkpoints/bad-run/mid-train","baseCheckpoint":"checkpoints/r/pretrain/step-1","midTrain":{"groupSize":1}}""");

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(NoExecutors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(JobExitCode.InvalidJob, outcome.ExitCode);
        var failed = Assert.Single(await harness.DrainAsync("bad-run"));
        Assert.Equal((StageEventKind.Failed, "mid-train", 1L), (failed.Kind, failed.Stage, failed.Sequence));
        Assert.Equal((FailureKind.InvalidInput, false), (failed.Failure!.Kind, failed.Failure.Retryable));
        Assert.Contains("midTrain.groupSize", failed.Failure.Message, StringComparison.Ordinal);
        var poison = Assert.Single(await jobs.PeekPoisonAsync());
        Assert.Contains("midTrain.groupSize", poison.Reason, StringComparison.Ordinal);
        Assert.Contains("bad-run", poison.Body, StringComparison.Ordinal);
        Assert.Null(await harness.Cloud.Jobs.ReceiveAsync(TimeSpan.Zero));
    }

    [Fact]
    public async Task A_job_message_that_is_not_json_goes_to_poison_and_logs_why_no_event_could_be_sent()
    {
        await using var harness = JobHarness.Create(azurite);
        var jobs = (StorageQueueJobQueue)harness.Cloud.Jobs;
        var queue = harness.Cloud.QueueService!.GetQueueClient(jobs.QueueName);
        await queue.CreateIfNotExistsAsync();
        await queue.SendMessageAsync("train please");

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(NoExecutors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(JobExitCode.InvalidJob, outcome.ExitCode);
        Assert.Single(await jobs.PeekPoisonAsync());
        Assert.Contains("no run id can be recovered", harness.Log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_file_with_an_unknown_field_fails_naming_the_field()
    {
        await using var harness = JobHarness.Create(azurite);
        const string json = """{"runId":"file-run","stage":"pretrain","attempt":2,"kind":"pretrain","outputPrefix":"checkpoints/file-run/pretrain","pretrain":{},"stepz":3}""";

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(NoExecutors).RunJsonAsync(json, "job.json", stop, CancellationToken.None);

        Assert.Equal(JobExitCode.InvalidJob, outcome.ExitCode);
        var failed = Assert.Single(await harness.DrainAsync("file-run"));
        Assert.Equal(2, failed.Attempt);
        Assert.Contains("stepz", failed.Failure!.Message, StringComparison.Ordinal);
        Assert.Contains("job.json", failed.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_claimed_by_another_process_backs_off_without_training_and_settles_the_duplicate()
    {
        await using var harness = JobHarness.Create(azurite);
        var job = new StageJob("dup-run", "pretrain", StageKind.Pretrain, 1, "checkpoints/dup-run/pretrain", Dataset: "datasets/demo/corpus.txt",
            Pretrain: new PretrainConfig());
        var earlier = new ClaimRecord(job.RunId, job.Stage, job.Attempt, "gpu-node-7", 4242, DateTimeOffset.UnixEpoch, job.MessageId);
        Assert.True(await harness.Store.TryCreateTextAsync(BlobLayout.Claim(job.RunId, job.Stage, job.Attempt), JobsJson.Serialize(earlier)));
        await harness.Cloud.Jobs.SendAsync(job);

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(NoExecutors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(JobExitCode.ClaimedByOther, outcome.ExitCode);
        Assert.Contains("already claimed by host gpu-node-7 (pid 4242)", harness.Log.Text, StringComparison.Ordinal);
        Assert.Empty(await harness.DrainAsync(job.RunId));                      // nothing published, nothing trained
        Assert.Null(await harness.Cloud.Jobs.ReceiveAsync(TimeSpan.Zero));       // the duplicate is settled
        Assert.Empty(await harness.Store.ListCheckpointsAsync(job.RunId, job.Stage));
    }
}

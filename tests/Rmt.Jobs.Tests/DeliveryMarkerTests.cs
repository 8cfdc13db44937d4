using Rmt.Cloud;
using Rmt.Cloud.Faults;
using Rmt.Contracts;

namespace Rmt.Jobs.Tests;

/// <summary>The delivery marker (DeliveryLog): executions that receive a job and die before they settle
/// its message are seen by the next execution, which goes on while there were fewer than
/// MaxUnsettledDeliveries (3) of them and otherwise dead-letters the job and fails the stage. The deaths
/// are real hard aborts of the runner inside its claim request (the process-kill equivalent the other
/// fault tests use), on Azurite with a 1 s visibility timeout so the message comes back quickly.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class DeliveryMarkerTests(AzuriteFixture azurite)
{
    /// <summary>Aborts the runner (like a kill) when it sends its claim, before it could settle.</summary>
    private sealed class DeathAtClaim
    {
        public CancellationTokenSource? Kill;
        public int Deaths;
        public FaultInjectionPolicy Policy => new(m =>
        {
            if (Kill is { } kill && FaultInjectionPolicy.IsPutOf(m, "/claims/attempt-1.json"))
            {
                Deaths++;
                kill.Cancel(); // the request is not sent: the token is already cancelled
            }
            return Fault.None;
        });
    }

    private static async Task DieBeforeSettlingAsync(JobHarness harness, DeathAtClaim death)
    {
        using var stop = new JobStopSignal();
        using var kill = new CancellationTokenSource();
        death.Kill = kill;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => harness.Runner(TinyJobs.Executors).RunNextAsync(harness.Cloud.Jobs, stop, kill.Token));
        death.Kill = null;
    }

    [Fact]
    public async Task After_three_executions_died_before_settling_the_fourth_dead_letters_the_job_and_fails_the_stage_with_the_reason()
    {
        var death = new DeathAtClaim();
        await using var harness = JobHarness.Create(azurite, death.Policy, jobVisibility: TimeSpan.FromSeconds(1));
        var runId = TinyJobs.RunId("deaths");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        var job = TinyJobs.Pretrain(runId, steps: 2, checkpointEvery: 2);
        await harness.Cloud.Jobs.SendAsync(job);

        for (int i = 0; i < 3; i++) await DieBeforeSettlingAsync(harness, death);
        Assert.Equal(3, death.Deaths);
        Assert.Empty(await harness.DrainAsync(runId)); // the dead ones said nothing

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(TinyJobs.Executors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(JobExitCode.FailedPermanent, outcome.ExitCode);
        Assert.Contains("3 earlier execution(s) received job", outcome.Summary, StringComparison.Ordinal);
        Assert.Contains("dead-lettered", outcome.Summary, StringComparison.Ordinal);
        var failed = Assert.Single(await harness.DrainAsync(runId));
        Assert.Equal((StageEventKind.Failed, FailureKind.Infrastructure, false), (failed.Kind, failed.Failure!.Kind, failed.Failure.Retryable));
        Assert.Contains("test-host/pid-", failed.Failure.Message, StringComparison.Ordinal); // who received it, and when
        Assert.False(await harness.Store.ExistsAsync(BlobLayout.Claim(runId, "pretrain", 1))); // nothing was claimed or trained
        var poison = await ((StorageQueueJobQueue)harness.Cloud.Jobs).PeekPoisonAsync();
        Assert.Contains(poison, p => p.Reason.Contains("never settled it", StringComparison.Ordinal));
        Assert.Null(await harness.Cloud.Jobs.ReceiveAsync(TimeSpan.FromSeconds(2))); // no more executions for it
    }

    [Fact]
    public async Task An_execution_after_one_that_died_before_settling_says_so_and_trains()
    {
        var death = new DeathAtClaim();
        await using var harness = JobHarness.Create(azurite, death.Policy, jobVisibility: TimeSpan.FromSeconds(1));
        var runId = TinyJobs.RunId("onedeath");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        await harness.Cloud.Jobs.SendAsync(TinyJobs.Pretrain(runId, steps: 2, checkpointEvery: 2));

        await DieBeforeSettlingAsync(harness, death);
        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(TinyJobs.Executors).RunNextAsync(harness.Cloud.Jobs, stop, CancellationToken.None);

        Assert.Equal(JobExitCode.Done, outcome.ExitCode);
        Assert.Contains(harness.Log.Lines, l => l.Contains("1 earlier execution(s) received job", StringComparison.Ordinal) && l.Contains("trying again", StringComparison.Ordinal));
        // The marker: two deliveries received, the second one settled.
        var lines = (await harness.Store.ReadTextAsync(JobBlobs.Deliveries(runId, "pretrain", 1)))!.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JobsJson.TryParse<DeliveryLine>(l)!).ToList();
        Assert.Equal([DeliveryLine.Received, DeliveryLine.Received, DeliveryLine.Settled], lines.Select(l => l.Event));
        Assert.Equal([1L, 2, 2], lines.Select(l => l.Delivery));
    }
}

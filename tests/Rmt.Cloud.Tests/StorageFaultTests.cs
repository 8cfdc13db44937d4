using Azure.Core;
using Azure.Storage.Blobs;
using Rmt.Cloud.Faults;
using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

/// <summary>The artifact store against Azurite with faults injected into the Azure SDK's pipeline: a
/// reply lost after the server applied a PUT, 503s and failed connections. Nothing committed may be
/// lost, and a write that succeeded must be recognised as ours after the SDK retried it.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class StorageFaultTests(AzuriteFixture azurite)
{
    /// <summary>A store whose every request (and every SDK retry of it) passes the fault policy first.</summary>
    private BlobArtifactStore Store(FaultInjectionPolicy faults)
    {
        var options = new BlobClientOptions();
        options.Retry.Delay = TimeSpan.FromMilliseconds(10);
        options.Retry.MaxRetries = 5;
        options.AddPolicy(faults, HttpPipelinePosition.PerRetry);
        return new BlobArtifactStore(new BlobServiceClient(azurite.ConnectionString, options));
    }

    [Fact]
    public async Task Manifest_commit_whose_reply_is_lost_is_recognised_as_ours_and_downloads()
    {
        using var temp = new Samples.TempDir();
        var files = Samples.WriteCheckpoint(temp.Sub("out"), seed: 11);
        var path = BlobLayout.Checkpoint(Samples.RunId(), "mid-train", 6);
        var faults = new FaultInjectionPolicy(FaultInjectionPolicy.Once(m => FaultInjectionPolicy.IsPutOf(m, "/manifest.json"), Fault.DropReplyAfterApply));
        var store = Store(faults);

        var manifest = await store.UploadCheckpointAsync(path, temp.Sub("out"), writer: "attempt-1");
        await store.DownloadCheckpointAsync(path, temp.Sub("in"));

        Assert.Equal(1, faults.Count(Fault.DropReplyAfterApply));
        Assert.StartsWith("attempt-1-", manifest.Writer, StringComparison.Ordinal);
        Assert.True(Samples.SameFiles(files, Samples.ReadFolder(temp.Sub("in"))));
    }

    [Fact]
    public async Task Create_only_write_whose_reply_is_lost_reports_success_to_its_writer_only()
    {
        var runId = Samples.RunId();
        var claim = BlobLayout.Claim(runId, "mid-train", 1);
        var faults = new FaultInjectionPolicy(FaultInjectionPolicy.Once(m => FaultInjectionPolicy.IsPutOf(m, "/attempt-1.json"), Fault.DropReplyAfterApply));
        var store = Store(faults);

        var mine = await store.TryCreateTextAsync(claim, "{\"host\":\"a\",\"pid\":1}");
        var other = await store.TryCreateTextAsync(claim, "{\"host\":\"b\",\"pid\":2}");

        Assert.Equal(1, faults.Count(Fault.DropReplyAfterApply));
        Assert.True(mine);
        Assert.False(other);
    }

    [Fact]
    public async Task Checkpoints_commit_and_download_under_503s_and_failed_connections()
    {
        using var temp = new Samples.TempDir();
        var files = Samples.WriteCheckpoint(temp.Sub("out"), seed: 12);
        var runId = Samples.RunId();
        // Every third request faults, cycling through the three kinds: deterministic and dense.
        var n = 0;
        var faults = new FaultInjectionPolicy(_ => ++n % 3 != 0 ? Fault.None : (Fault)(1 + n / 3 % 3));
        var store = Store(faults);

        for (var step = 1; step <= 3; step++)
            await store.UploadCheckpointAsync(BlobLayout.Checkpoint(runId, "mid-train", step), temp.Sub("out"), writer: "w");
        var listed = await store.ListCheckpointsAsync(runId, "mid-train");
        foreach (var checkpoint in listed)
        {
            await store.DownloadCheckpointAsync(checkpoint.Uri, temp.Sub($"in-{checkpoint.Step}"));
            Assert.True(Samples.SameFiles(files, Samples.ReadFolder(temp.Sub($"in-{checkpoint.Step}"))));
        }

        Assert.Equal([3L, 2L, 1L], listed.Select(c => c.Step));
        Assert.True(faults.Count(Fault.DropReplyAfterApply) > 0 && faults.Count(Fault.ServiceUnavailable) > 0 && faults.Count(Fault.ConnectionFailure) > 0,
            $"expected every kind of fault; got {faults.Injected} of {faults.Requests} requests");
    }
}

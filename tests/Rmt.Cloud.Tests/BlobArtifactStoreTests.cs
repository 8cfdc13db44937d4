using System.Security.Cryptography;
using Azure.Storage.Blobs;
using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class BlobArtifactStoreTests(AzuriteFixture azurite)
{
    private BlobServiceClient Service => new(azurite.ConnectionString);

    private BlobArtifactStore Store() => new(Service);

    private BlobClient RawBlob(string blobPath)
    {
        var (container, name) = BlobLayout.Split(blobPath);
        return Service.GetBlobContainerClient(container).GetBlobClient(name);
    }

    [Fact]
    public async Task Append_logs_roll_over_to_numbered_parts_at_the_block_limit_and_read_back_whole_and_in_order()
    {
        var runId = Samples.RunId();
        var log = BlobLayout.RunEvents(runId);
        var metrics = BlobLayout.StageMetrics(runId, "mid-train");
        var store = new BlobArtifactStore(Service) { AppendBlockLimit = 5 }; // production: 50,000, the service's limit
        static string Line(int n) => $"{{\"n\":{n}}}";

        for (var n = 1; n <= 12; n++) await store.AppendLinesAsync(log, [Line(n)]); // one block per append
        await store.AppendLinesAsync(metrics, [Line(1)]);

        Assert.Equal([$"runs/{runId}/events.1.jsonl", $"runs/{runId}/events.2.jsonl", log], await store.ListAsync($"runs/{runId}/events")); // name order
        Assert.Equal(string.Concat(Enumerable.Range(1, 5).Select(n => Line(n) + "\n")), await store.ReadTextAsync(log)); // part 0 is full at 5 blocks
        Assert.Equal(string.Concat(Enumerable.Range(1, 12).Select(n => Line(n) + "\n")), await store.ReadAppendLogAsync(log));
        Assert.Equal(Line(1) + "\n", await store.ReadAppendLogAsync(metrics)); // another log in the same folder is its own
        Assert.Null(await store.ReadAppendLogAsync(BlobLayout.StageMetrics(runId, "post-train")));

        // Another process (a new store) appends where the last one stopped (part 2 holds 11 and 12)...
        var next = new BlobArtifactStore(Service) { AppendBlockLimit = 5 };
        for (var n = 13; n <= 20; n++) await next.AppendLinesAsync(log, [Line(n)]);
        Assert.Equal(string.Concat(Enumerable.Range(11, 5).Select(n => Line(n) + "\n")), await store.ReadTextAsync($"runs/{runId}/events.2.jsonl"));
        Assert.Equal(string.Concat(Enumerable.Range(16, 5).Select(n => Line(n) + "\n")), await store.ReadTextAsync($"runs/{runId}/events.3.jsonl"));
        // ...and one that finds the last part full starts the next one.
        var another = new BlobArtifactStore(Service) { AppendBlockLimit = 5 };
        await another.AppendLinesAsync(log, [Line(21), Line(22)]); // one block
        Assert.Equal(Line(21) + "\n" + Line(22) + "\n", await store.ReadTextAsync($"runs/{runId}/events.4.jsonl"));
        Assert.Equal(string.Concat(Enumerable.Range(1, 22).Select(n => Line(n) + "\n")), await another.ReadAppendLogAsync(log));
    }

    [Fact]
    public async Task Checkpoint_round_trips_with_a_verified_manifest()
    {
        using var temp = new Samples.TempDir();
        var files = Samples.WriteCheckpoint(temp.Sub("out"), seed: 1);
        var path = BlobLayout.Checkpoint(Samples.RunId(), "mid-train", 50);
        var store = Store();

        var manifest = await store.UploadCheckpointAsync(path, temp.Sub("out"), writer: "job attempt 1");
        var back = await store.DownloadCheckpointAsync(path, temp.Sub("in"));

        Assert.Equal(50, manifest.Step);
        Assert.Equal("mid-train", manifest.Stage);
        Assert.Equal(files.Keys.Order(StringComparer.Ordinal), manifest.Files.Select(f => f.Path));
        foreach (var file in manifest.Files)
        {
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(files[file.Path])), file.Sha256);
            Assert.Equal(files[file.Path].Length, file.Size);
        }
        Assert.StartsWith("job-attempt-1-", manifest.Writer, StringComparison.Ordinal);
        Assert.Equal(RmtJson.Serialize(manifest), RmtJson.Serialize(back));
        Assert.True(Samples.SameFiles(files, Samples.ReadFolder(temp.Sub("in"))));
        // The downloaded folder carries its manifest, and uploading it again leaves that file out.
        Assert.True(File.Exists(Path.Combine(temp.Sub("in"), "manifest.json")));
        var again = await store.UploadCheckpointAsync(BlobLayout.Checkpoint(manifest.RunId, "mid-train", 60), temp.Sub("in"));
        Assert.Equal(manifest.Files.Select(f => f.Sha256), again.Files.Select(f => f.Sha256));
    }

    [Fact]
    public async Task Corrupted_blob_is_named_with_expected_and_actual_hash()
    {
        using var temp = new Samples.TempDir();
        Samples.WriteCheckpoint(temp.Sub("out"), seed: 2);
        var path = BlobLayout.Checkpoint(Samples.RunId(), "mid-train", 10);
        var store = Store();
        var manifest = await store.UploadCheckpointAsync(path, temp.Sub("out"));
        var weights = $"{path}/{manifest.Writer}/model.safetensors";
        var expected = manifest.Files.Single(f => f.Path == "model.safetensors").Sha256;
        var corrupted = File.ReadAllBytes(Path.Combine(temp.Sub("out"), "model.safetensors"));
        corrupted[100] ^= 0xFF; // one flipped byte, same size
        await RawBlob(weights).UploadAsync(BinaryData.FromBytes(corrupted), overwrite: true);

        var error = await Assert.ThrowsAsync<ArtifactException>(() => store.DownloadCheckpointAsync(path, temp.Sub("in")));

        Assert.Contains(store.UriOf(weights).ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(corrupted)), error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(temp.Sub("in"), "model.safetensors")));
    }

    [Fact]
    public async Task Missing_blob_error_names_the_uri()
    {
        using var temp = new Samples.TempDir();
        Samples.WriteCheckpoint(temp.Sub("out"), seed: 3);
        var runId = Samples.RunId();
        var path = BlobLayout.Checkpoint(runId, "mid-train", 10);
        var store = Store();
        var manifest = await store.UploadCheckpointAsync(path, temp.Sub("out"));
        var vocab = $"{path}/{manifest.Writer}/tokenizer/vocab.json";
        await RawBlob(vocab).DeleteAsync();

        var inCheckpoint = await Assert.ThrowsAsync<ArtifactException>(() => store.DownloadCheckpointAsync(path, temp.Sub("in")));
        var single = await Assert.ThrowsAsync<ArtifactException>(() => store.DownloadFileAsync($"runs/{runId}/nothing.json", temp.Sub("x.json")));
        var noCheckpoint = await Assert.ThrowsAsync<ArtifactException>(
            () => store.DownloadCheckpointAsync(BlobLayout.Checkpoint(runId, "mid-train", 99), temp.Sub("in2")));

        Assert.Contains(store.UriOf(vocab).ToString(), inCheckpoint.Message, StringComparison.Ordinal);
        Assert.Contains(store.UriOf($"runs/{runId}/nothing.json").ToString(), single.Message, StringComparison.Ordinal);
        Assert.Contains(store.UriOf(BlobLayout.Checkpoint(runId, "mid-train", 99) + "/manifest.json").ToString(), noCheckpoint.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Sub("x.json")));
    }

    [Fact]
    public async Task Racing_writers_never_give_a_mixed_checkpoint()
    {
        using var temp = new Samples.TempDir();
        var runId = Samples.RunId();
        var store = Store();
        const int writers = 3;
        var contents = Enumerable.Range(0, writers)
            .Select(w => Samples.WriteCheckpoint(temp.Sub($"writer-{w}"), seed: 100 + w, weightBytes: 48 * 1024 + w))
            .ToArray();

        for (var step = 1; step <= 4; step++)
        {
            var path = BlobLayout.Checkpoint(runId, "mid-train", step);
            // Each writer uses its own store instance (its own process in real life).
            var results = await Task.WhenAll(Enumerable.Range(0, writers)
                .Select(w => Task.Run(() => new BlobArtifactStore(Service).UploadCheckpointAsync(path, temp.Sub($"writer-{w}"), writer: $"writer-{w}"))));

            var downloaded = await store.DownloadCheckpointAsync(path, temp.Sub($"read-{step}"));
            var files = Samples.ReadFolder(temp.Sub($"read-{step}"));
            var matches = contents.Count(c => Samples.SameFiles(c, files));
            Assert.Equal(1, matches);
            // Every writer was told the same winner, and only the winner's files remain.
            Assert.All(results, r => Assert.Equal(downloaded.Writer, r.Writer));
            var blobs = await store.ListAsync(path + "/");
            Assert.All(blobs, b => Assert.True(
                b == path + "/manifest.json" || b.StartsWith($"{path}/{downloaded.Writer}/", StringComparison.Ordinal), $"leftover blob {b}"));
            Assert.Equal(contents[0].Count + 1, blobs.Count);
        }
    }

    [Fact]
    public async Task Uploading_a_committed_step_again_keeps_the_first_checkpoint()
    {
        using var temp = new Samples.TempDir();
        var first = Samples.WriteCheckpoint(temp.Sub("a"), seed: 6, weightBytes: 512);
        Samples.WriteCheckpoint(temp.Sub("b"), seed: 7, weightBytes: 512);
        var path = BlobLayout.Checkpoint(Samples.RunId(), "mid-train", 5);
        var store = Store();

        var committed = await store.UploadCheckpointAsync(path, temp.Sub("a"), writer: "attempt-1");
        var again = await store.UploadCheckpointAsync(path, temp.Sub("b"), writer: "attempt-2");
        await store.DownloadCheckpointAsync(path, temp.Sub("read"));

        Assert.Equal(committed.Writer, again.Writer);
        Assert.True(Samples.SameFiles(first, Samples.ReadFolder(temp.Sub("read"))));
        Assert.Equal(first.Count + 1, (await store.ListAsync(path + "/")).Count);
    }

    [Fact]
    public async Task Checkpoints_are_listed_newest_first_skipping_unfinished_and_invalid_ones()
    {
        using var temp = new Samples.TempDir();
        Samples.WriteCheckpoint(temp.Sub("out"), seed: 4, weightBytes: 1024);
        var runId = Samples.RunId();
        var store = Store();
        foreach (var step in new[] { 10, 30, 20 })
            await store.UploadCheckpointAsync(BlobLayout.Checkpoint(runId, "mid-train", step), temp.Sub("out"));
        // step-50: a writer crashed after staging its files, before the manifest.
        await store.UploadFileAsync($"{BlobLayout.Checkpoint(runId, "mid-train", 50)}/w-dead0001/model.safetensors", Path.Combine(temp.Sub("out"), "model.safetensors"));
        // step-40: a manifest that does not parse; step-45: a valid manifest of another step.
        await store.WriteTextAsync($"{BlobLayout.Checkpoint(runId, "mid-train", 40)}/manifest.json", "{\"runId\":");
        var manifest20 = await store.ReadTextAsync($"{BlobLayout.Checkpoint(runId, "mid-train", 20)}/manifest.json");
        await store.WriteTextAsync($"{BlobLayout.Checkpoint(runId, "mid-train", 45)}/manifest.json", manifest20!);
        // another stage of the same run is not listed
        await store.UploadCheckpointAsync(BlobLayout.Checkpoint(runId, "post-train", 70), temp.Sub("out"));

        var list = await store.ListCheckpointsAsync(runId, "mid-train");

        Assert.Equal([30L, 20L, 10L], list.Select(c => c.Step));
        Assert.Equal(BlobLayout.Checkpoint(runId, "mid-train", 30), list[0].Uri);
        Assert.Empty(await store.ListCheckpointsAsync(Samples.RunId(), "mid-train"));
    }

    [Fact]
    public async Task Upload_refuses_a_path_that_is_not_a_checkpoint()
    {
        using var temp = new Samples.TempDir();
        Samples.WriteCheckpoint(temp.Sub("out"), seed: 5, weightBytes: 16);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => Store().UploadCheckpointAsync($"checkpoints/{Samples.RunId()}/mid-train/final", temp.Sub("out")));

        Assert.Contains("step-", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_blobs_claims_and_append_logs_work()
    {
        var runId = Samples.RunId();
        var store = Store();
        var claim = BlobLayout.Claim(runId, "mid-train", 1);

        await store.WriteTextAsync(BlobLayout.RunRequest(runId), "{\"a\":1}");
        var claims = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => store.TryCreateTextAsync(claim, $"claimant {i}")));
        await store.AppendLinesAsync(BlobLayout.RunEvents(runId), ["{\"n\":1}", "{\"n\":2}"]);
        await store.AppendLinesAsync(BlobLayout.RunEvents(runId), ["{\"n\":3}"]);

        Assert.Equal("{\"a\":1}", await store.ReadTextAsync(BlobLayout.RunRequest(runId)));
        Assert.Null(await store.ReadTextAsync(BlobLayout.RunReport(runId)));
        Assert.Equal(1, claims.Count(c => c));
        Assert.StartsWith("claimant ", await store.ReadTextAsync(claim), StringComparison.Ordinal);
        Assert.False(await store.TryCreateTextAsync(claim, "late"));
        Assert.Equal("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", await store.ReadTextAsync(BlobLayout.RunEvents(runId)));
        Assert.True(await store.ExistsAsync(claim));
        Assert.False(await store.ExistsAsync(BlobLayout.CancelMarker(runId)));
        Assert.Equal(
            [BlobLayout.RunEvents(runId), claim, BlobLayout.RunRequest(runId)], // name order
            await store.ListAsync(BlobLayout.Run(runId) + "/"));
        Assert.Equal(new Uri($"http://127.0.0.1:{azurite.Server.BlobPort}/devstoreaccount1/runs/{runId}/request.json"), store.UriOf(BlobLayout.RunRequest(runId)));
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendLinesAsync(BlobLayout.RunEvents(runId), ["two\nlines"]));
    }

    [Fact]
    public async Task Files_round_trip()
    {
        using var temp = new Samples.TempDir();
        var runId = Samples.RunId();
        var local = temp.Sub("corpus.txt");
        await File.WriteAllTextAsync(local, "the quick brown fox\n");
        var store = Store();

        await store.UploadFileAsync(BlobLayout.Dataset(runId, "corpus.txt"), local);
        await store.DownloadFileAsync(BlobLayout.Dataset(runId, "corpus.txt"), temp.Sub("nested/copy.txt"));

        Assert.Equal("the quick brown fox\n", await File.ReadAllTextAsync(temp.Sub("nested/copy.txt")));
    }

    [Fact]
    public async Task A_read_only_identity_reads_datasets_without_creating_the_container()
    {
        // The trainer holds Storage Blob Data Reader on datasets (infra/bicep/modules/roles.bicep), which
        // may not create containers; a read-and-list SAS gets the same 403 from the create call.
        var name = BlobLayout.Dataset(Samples.RunId("ro"), "corpus.txt");
        await Store().WriteTextAsync(name, "to be or not to be");
        var readOnly = new BlobServiceClient(Service.GenerateAccountSasUri(
            Azure.Storage.Sas.AccountSasPermissions.Read | Azure.Storage.Sas.AccountSasPermissions.List,
            DateTimeOffset.UtcNow.AddHours(1), Azure.Storage.Sas.AccountSasResourceTypes.All));
        var store = new BlobArtifactStore(readOnly);

        Assert.Equal("to be or not to be", await store.ReadTextAsync(name));
        using var temp = new Samples.TempDir();
        await store.DownloadFileAsync(name, Path.Combine(temp.Path, "corpus.txt"));
        Assert.Equal("to be or not to be", await File.ReadAllTextAsync(Path.Combine(temp.Path, "corpus.txt")));
        var missing = await Assert.ThrowsAsync<ArtifactException>(() => store.DownloadFileAsync(name + ".missing", Path.Combine(temp.Path, "x")));
        Assert.Contains("is missing", missing.Message, StringComparison.Ordinal);
        // Writing still fails, with the storage error rather than silently.
        await Assert.ThrowsAnyAsync<Exception>(() => store.WriteTextAsync(name + ".new", "x"));
    }
}

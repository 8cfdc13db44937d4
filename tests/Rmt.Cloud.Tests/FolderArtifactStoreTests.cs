using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

/// <summary>The folder store behind `train` and `eval`: checkpoints as plain folders with a manifest
/// written last, mounts for inputs and outputs, create-only claims, append logs.</summary>
public sealed class FolderArtifactStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rmt-folder-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Local(params string[] parts) => Path.Combine([_dir, .. parts]);

    [Fact]
    public async Task A_checkpoint_round_trips_verified_is_listed_once_complete_and_a_corrupted_file_is_named()
    {
        var store = new FolderArtifactStore(Local("root"), [new FolderMount(BlobLayout.CheckpointPrefix("r", "s"), Local("out", "checkpoints"))]);
        var source = Local("source");
        Directory.CreateDirectory(Path.Combine(source, "sub"));
        await File.WriteAllTextAsync(Path.Combine(source, "model.safetensors"), "weights");
        await File.WriteAllTextAsync(Path.Combine(source, "sub", "tokenizer.json"), "{}");
        Directory.CreateDirectory(Local("out", "checkpoints", "step-9")); // half-written: no manifest, not listed

        var manifest = await store.UploadCheckpointAsync(BlobLayout.Checkpoint("r", "s", 3), source, "writer-a");
        var again = await store.UploadCheckpointAsync(BlobLayout.Checkpoint("r", "s", 3), source, "writer-b");

        Assert.Equal(["model.safetensors", "sub/tokenizer.json"], manifest.Files.Select(f => f.Path));
        Assert.Equal("writer-a", again.Writer); // the first committed checkpoint stays
        Assert.True(File.Exists(Local("out", "checkpoints", "step-3", BlobLayout.ManifestFileName)));
        Assert.Equal([3L], (await store.ListCheckpointsAsync("r", "s")).Select(c => c.Step));
        await store.DownloadCheckpointAsync(BlobLayout.Checkpoint("r", "s", 3), Local("copy"));
        Assert.Equal("weights", await File.ReadAllTextAsync(Local("copy", "model.safetensors")));

        await File.WriteAllTextAsync(Local("out", "checkpoints", "step-3", "model.safetensors"), "tampered");
        var error = await Assert.ThrowsAsync<ArtifactException>(() => store.DownloadCheckpointAsync(BlobLayout.Checkpoint("r", "s", 3), Local("copy2")));
        Assert.Contains("model.safetensors", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mounted_inputs_are_read_in_place_and_a_mounted_folder_without_a_manifest_is_taken_as_it_is()
    {
        var corpus = Local("corpus.txt");
        await File.WriteAllTextAsync(corpus, "text");
        var model = Local("hf-model");
        Directory.CreateDirectory(model);
        await File.WriteAllTextAsync(Path.Combine(model, "config.json"), "{}");
        var store = new FolderArtifactStore(Local("root"),
            [new FolderMount("datasets/local/corpus.txt", corpus), new FolderMount(BlobLayout.Checkpoint("local", "base", 0), model)]);

        Assert.True(await store.ExistsAsync("datasets/local/corpus.txt"));
        await store.DownloadFileAsync("datasets/local/corpus.txt", Local("work", "corpus.txt"));
        Assert.Equal("text", await File.ReadAllTextAsync(Local("work", "corpus.txt")));
        var manifest = await store.DownloadCheckpointAsync(BlobLayout.Checkpoint("local", "base", 0), Local("work", "base"));
        Assert.Equal(["config.json"], manifest.Files.Select(f => f.Path));
        await Assert.ThrowsAsync<ArtifactException>(() => store.DownloadCheckpointAsync(BlobLayout.Checkpoint("local", "other", 0), Local("work", "x")));
    }

    [Fact]
    public async Task Claims_are_create_only_logs_append_and_listing_is_by_prefix()
    {
        var store = new FolderArtifactStore(Local("root"));
        Assert.True(await store.TryCreateTextAsync("runs/r/s/claims/attempt-1.json", "me"));
        Assert.True(await store.TryCreateTextAsync("runs/r/s/claims/attempt-1.json", "me")); // a retry of the same write
        Assert.False(await store.TryCreateTextAsync("runs/r/s/claims/attempt-1.json", "someone else"));
        await store.AppendLinesAsync("runs/r/s/metrics.jsonl", ["a"]);
        await store.AppendLinesAsync("runs/r/s/metrics.jsonl", ["b", "c"]);
        Assert.Equal("a\nb\nc\n", await store.ReadAppendLogAsync("runs/r/s/metrics.jsonl"));
        Assert.Null(await store.ReadTextAsync("runs/r/s/missing.txt"));
        Assert.Equal(["runs/r/s/claims/attempt-1.json", "runs/r/s/metrics.jsonl"], await store.ListAsync("runs/r/s/"));
        Assert.Equal(["runs/r/s/metrics.jsonl"], await store.ListAsync("runs/r/s/metrics"));
    }
}

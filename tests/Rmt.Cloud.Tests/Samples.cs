using System.Security.Cryptography;
using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

/// <summary>Records and ids for the tests. Every test takes fresh run ids, so tests run in
/// parallel against one Azurite without seeing each other's blobs or queues.</summary>
internal static class Samples
{
    public static string RunId(string prefix = "t") => $"{prefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}";

    public static StageJob Job(string runId, int attempt = 1) => new(
        RunId: runId, Stage: "mid-train", Kind: StageKind.MidTrain, Attempt: attempt,
        OutputPrefix: BlobLayout.CheckpointPrefix(runId, "mid-train"),
        Dataset: BlobLayout.Dataset("demo", "corpus.txt"),
        BaseCheckpoint: BlobLayout.Checkpoint(runId, "pretrain", 200),
        MidTrain: new MidTrainConfig(),
        TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-01-01T00:00:00Z");

    public static StageEvent Event(string runId, string stage, int attempt, long sequence, StageEventKind kind = StageEventKind.Progress) => kind switch
    {
        StageEventKind.Progress => new StageEvent(runId, stage, attempt, sequence, Start.AddSeconds(sequence), kind,
            Progress: new StageProgress(sequence * 10, 100, Loss: 2.5, Reward: 0.25, Accuracy: 0.5, Budget: 64, ReasoningLength: 31.5, TokensPerSecond: 1200)),
        StageEventKind.CheckpointSaved => new StageEvent(runId, stage, attempt, sequence, Start.AddSeconds(sequence), kind,
            Checkpoint: new CheckpointRef(BlobLayout.Checkpoint(runId, stage, sequence * 10), sequence * 10)),
        StageEventKind.Completed => new StageEvent(runId, stage, attempt, sequence, Start.AddSeconds(sequence), kind,
            Result: new StageResult(new CheckpointRef(BlobLayout.Checkpoint(runId, stage, 100), 100), Metrics: new Dictionary<string, double> { ["accuracy"] = 0.75 })),
        StageEventKind.Failed => new StageEvent(runId, stage, attempt, sequence, Start.AddSeconds(sequence), kind,
            Failure: new StageFailure(FailureKind.Training, "loss became NaN at step 40", Retryable: true)),
        _ => new StageEvent(runId, stage, attempt, sequence, Start.AddSeconds(sequence), kind, Message: $"{kind} at {sequence}"),
    };

    /// <summary>A fresh temp folder, removed on dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public TempDir() => Directory.CreateDirectory(Path);

        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rmt-cloud-tests", Guid.NewGuid().ToString("n"));

        public string Sub(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
    }

    /// <summary>Writes a small HF-style checkpoint folder whose bytes depend on <paramref name="seed"/>.</summary>
    public static IReadOnlyDictionary<string, byte[]> WriteCheckpoint(string dir, int seed, int weightBytes = 64 * 1024)
    {
        var random = new Random(seed);
        var weights = new byte[weightBytes];
        random.NextBytes(weights);
        var files = new Dictionary<string, byte[]>
        {
            ["config.json"] = System.Text.Encoding.UTF8.GetBytes($"{{\"n_layer\":2,\"seed\":{seed}}}"),
            ["model.safetensors"] = weights,
            ["tokenizer/vocab.json"] = System.Text.Encoding.UTF8.GetBytes($"{{\"a\":{seed},\"b\":{seed + 1}}}"),
            ["trainer_state.json"] = System.Text.Encoding.UTF8.GetBytes($"{{\"step\":{seed}}}"),
        };
        foreach (var (name, bytes) in files)
        {
            var path = System.IO.Path.Combine(dir, name);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
        }
        return files;
    }

    /// <summary>Every file under a folder as relative path -> bytes, manifest.json left out.</summary>
    public static Dictionary<string, byte[]> ReadFolder(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => (Name: System.IO.Path.GetRelativePath(dir, f).Replace('\\', '/'), Path: f))
            .Where(f => f.Name != BlobLayout.ManifestFileName)
            .ToDictionary(f => f.Name, f => File.ReadAllBytes(f.Path));

    public static bool SameFiles(IReadOnlyDictionary<string, byte[]> a, IReadOnlyDictionary<string, byte[]> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var other) && other.AsSpan().SequenceEqual(kv.Value));
}

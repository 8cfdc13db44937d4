using System.Text;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Jobs.Executors;

namespace Rmt.Jobs.Tests;

/// <summary>Tiny pretrain jobs (a 4-layer d=128 model, byte tokenizer, 32-token windows) that train a
/// handful of steps in about a second on the CPU.</summary>
public static class TinyJobs
{
    public static StageExecutors Executors { get; } = new([new PretrainExecutor()]);

    /// <summary>A deterministic corpus of a few thousand bytes with learnable structure.</summary>
    public static string Corpus()
    {
        var text = new StringBuilder();
        string[] names = ["ada", "bob", "cy", "dee"];
        for (var i = 0; i < 120; i++)
            text.Append(names[i % 4]).Append(" adds ").Append(i % 7).Append(" and ").Append(i % 5).Append(" to get ").Append(i % 7 + i % 5).Append(".\n");
        return text.ToString();
    }

    public static string DatasetOf(string runId) => BlobLayout.Dataset(runId, "corpus.txt");

    public static async Task UploadCorpusAsync(IArtifactStore store, string runId) =>
        await store.WriteTextAsync(DatasetOf(runId), Corpus());

    public static StageJob Pretrain(string runId, int attempt = 1, int steps = 6, int progressEvery = 1, int checkpointEvery = 3, string? dataset = null) =>
        new(runId, "pretrain", StageKind.Pretrain, attempt, BlobLayout.CheckpointPrefix(runId, "pretrain"),
            Dataset: dataset ?? DatasetOf(runId),
            Pretrain: new PretrainConfig(
                new TrainingSchedule(Steps: steps, BatchSize: 2, LearningRate: 3e-3, WarmupSteps: 1, CheckpointEvery: checkpointEvery,
                    ProgressEvery: progressEvery, Seed: 7),
                SequenceLength: 32, ModelPreset: "tiny"));

    public static string RunId(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..6]}";
}

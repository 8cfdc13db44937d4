using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;
using Rmt.Jobs.Executors;
using Rmt.Training.Checkpoints;
using Rmt.Training.MidTraining;

namespace Rmt.Jobs.Tests;

/// <summary>Mid-training from files through the job lifecycle (<see cref="FolderJob"/>): checkpoints at
/// the cadence, each with its config, and a longer second run resumes from the newest one and reuses the
/// cached proxy entropies. (It replaced
/// MidTrainRun, a second loop over RmtTrainer that the pipeline never used.)</summary>
public sealed class MidTrainStageTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("rmt-mid-train-stage-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private async Task<JobOutcome> RunAsync(StageJob job, LocalStageInputs inputs, string outDir, Action<StageEvent>? onEvent = null)
    {
        using var stop = new JobStopSignal();
        var outcome = await FolderJob.RunAsync(job, inputs, Path.Combine(_work, outDir), StageExecutorCatalog.All(), NullLogger.Instance, onEvent, stop, CancellationToken.None);
        Assert.True(outcome.ExitCode == JobExitCode.Done, outcome.Summary);
        return outcome;
    }

    [Fact]
    public async Task A_run_from_files_checkpoints_and_a_second_longer_run_resumes()
    {
        var corpus = Path.Combine(_work, "corpus.txt");
        await File.WriteAllTextAsync(corpus, TinyJobs.Corpus());
        var pretrain = TinyJobs.Pretrain(FolderJob.RunId, steps: 2, checkpointEvery: 2);
        await RunAsync(pretrain with { Pretrain = pretrain.Pretrain! with { SequenceLength = 96 } }, new LocalStageInputs(corpus, null, null), "pretrain");
        var baseDir = Path.Combine(_work, "pretrain", "checkpoints", "step-2");
        var config = new MidTrainConfig(new TrainingSchedule(Steps: 2, BatchSize: 2, LearningRate: 1e-3, WarmupSteps: 0, CheckpointEvery: 1, ProgressEvery: 1, Seed: 3),
            GroupSize: 2, ContextTokens: 16, NtpTailTokens: 4, Budget: new BudgetConfig(Initial: 8, Minimum: 2), Rollout: new RolloutConfig(MaxReasoningTokens: 8));
        var job = new StageJob(FolderJob.RunId, "mid-train", StageKind.MidTrain, 1, BlobLayout.CheckpointPrefix(FolderJob.RunId, "mid-train"), MidTrain: config);
        var inputs = new LocalStageInputs(corpus, null, baseDir);
        var saved = new List<long>();

        var first = await RunAsync(job, inputs, "mid-train", e => { if (e.Kind == StageEventKind.CheckpointSaved) saved.Add(e.Checkpoint!.Step); });
        Assert.Equal([1L, 2], saved);
        Assert.Null(first.ResumedFromStep);
        var step2 = Path.Combine(_work, "mid-train", "checkpoints", "step-2");
        Assert.Equal(config, RmtTrainer.ReadConfig(step2));
        var cache = Assert.Single(Directory.GetFiles(Path.Combine(_work, "mid-train", "work", FolderJob.RunId, "mid-train", "cache", "entropy"), "*.f32"));
        var cachedAt = File.GetLastWriteTimeUtc(cache);

        var longer = config with { Schedule = config.Schedule with { Steps = 3 } };
        var second = await RunAsync(job with { MidTrain = longer }, inputs, "mid-train");
        Assert.Equal(2, second.ResumedFromStep);
        Assert.Equal(3, second.Result!.Checkpoint!.Step);
        var step3 = Path.Combine(_work, "mid-train", "checkpoints", "step-3");
        Assert.Equal(3, Checkpoint.ReadState(step3)!.Step);
        Assert.Equal(longer, RmtTrainer.ReadConfig(step3));
        Assert.Equal(cachedAt, File.GetLastWriteTimeUtc(cache)); // the second run read the first run's proxy entropies
    }
}

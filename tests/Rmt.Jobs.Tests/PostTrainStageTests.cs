using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;
using Rmt.Jobs.Executors;
using Rmt.Training.Checkpoints;
using Rmt.Training.PostTraining;

namespace Rmt.Jobs.Tests;

/// <summary>Post-training through the job lifecycle (<see cref="FolderJob"/>, the runner of `train`):
/// it chains from a checkpoint folder, writes checkpoints and a report, resumes, scores the format
/// warm-up separately, and its KL reference is the policy after the warm-up, also after a resume.
/// (Moved here from the Training tests when the stage's own loop became the executor's.)</summary>
public sealed class PostTrainStageTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("rmt-post-train-stage-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static async Task<JobOutcome> PostTrainAsync(PostTrainConfig config, string baseDir, string train, string? eval, string outDir,
        Action<StageEvent>? onEvent = null, JobStopSignal? stop = null)
    {
        var job = new StageJob(FolderJob.RunId, "post-train", StageKind.PostTrain, 1, BlobLayout.CheckpointPrefix(FolderJob.RunId, "post-train"), PostTrain: config);
        using var own = new JobStopSignal();
        return await FolderJob.RunAsync(job, new LocalStageInputs(train, eval, baseDir), outDir, StageExecutorCatalog.All(),
            NullLogger.Instance, onEvent, stop ?? own, CancellationToken.None);
    }

    private static PostTrainResult Result(string outDir) => PostTrainReport.ReadResult(Path.Combine(outDir, PostTrainReport.ResultFileName));

    [Fact]
    public async Task Stage_post_trains_a_checkpoint_writes_checkpoints_and_report_and_resumes()
    {
        var (baseDir, tokenizer, trainPath, evalPath) = MathBases.SavePretrainedBase(_work, steps: 200);
        var config = new PostTrainConfig(
            new TrainingSchedule(Steps: 20, BatchSize: 4, LearningRate: 1e-3, WarmupSteps: 0, WeightDecay: 0.0, Seed: 8, CheckpointEvery: 10, ProgressEvery: 5),
            GroupSize: 8, MaxNewTokens: 24, PassAtK: 2, EvalSamples: 4, EvalEvery: 10, Grpo: new GrpoConfig(KlWeight: 0.01));
        var outDir = Path.Combine(_work, "post-train");
        var checkpoints = new List<long>();

        var outcome = await PostTrainAsync(config, baseDir, trainPath, evalPath, outDir,
            e => { if (e.Kind == StageEventKind.CheckpointSaved) checkpoints.Add(e.Checkpoint!.Step); });

        Assert.True(outcome.ExitCode == JobExitCode.Done, outcome.Summary);
        Assert.Equal([10L, 20], checkpoints);
        var result = Result(outDir);
        Assert.Equal([0, 10, 20], result.Evaluations.Select(e => e.Step));
        Assert.Equal(20, result.Steps.Count);
        Assert.True(result.After.Accuracy > result.Before.Accuracy + 0.3, $"accuracy {result.Before.Accuracy:P0} -> {result.After.Accuracy:P0}");
        Assert.Equal(result.After.Accuracy, outcome.Result!.Metrics![StageMetricNames.AccuracyAfter]);
        var step10 = Path.Combine(outDir, "checkpoints", "step-10");
        var step20 = Path.Combine(outDir, "checkpoints", "step-20");
        Assert.Equal(config, RmtJson.Parse<PostTrainConfig>(Checkpoint.ReadStageConfig(step10)!, "stage_config.json"));
        Assert.Equal(MathGrpoTrainer.TrainerName, Checkpoint.ReadState(step20)!.Trainer);
        var report = await File.ReadAllTextAsync(Path.Combine(outDir, "report.md"));
        Assert.Contains("## Math post-training", report, StringComparison.Ordinal);
        Assert.Contains("| accuracy (greedy) |", report, StringComparison.Ordinal);
        Assert.Contains("](plots/training.png)", report, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(outDir, "plots", "training.png")));
        Assert.True(File.Exists(Path.Combine(outDir, "plots", "held-out.png")));
        using (var reloaded = Checkpoint.Load(step20)) Assert.Equal(tokenizer.VocabSize, reloaded.Tokenizer.VocabSize);

        // A longer rerun over the same folder resumes from step 20 instead of starting again.
        var longer = config with { Schedule = config.Schedule with { Steps = 24 } };
        var again = await PostTrainAsync(longer, baseDir, trainPath, evalPath, outDir);
        Assert.Equal(20, again.ResumedFromStep);
        var resumed = Result(outDir);
        Assert.Equal([21, 22, 23, 24], resumed.Steps.Select(s => s.Step));
        Assert.Equal(result.Before.Accuracy, resumed.Before.Accuracy);
        Assert.Equal(result.Before.Examples, resumed.Before.Examples);
        Assert.Equal(24, Checkpoint.ReadState(Path.Combine(outDir, "checkpoints", "step-24"))!.Step);

        var table = PostTrainReport.ComparisonTable([("base", result), ("resumed", resumed)]);
        Assert.Equal(4, table.Split('\n').Length);
    }

    [Fact]
    public async Task Format_warmup_is_scored_separately_from_grpo()
    {
        var tokenizer = Rmt.Training.Tokenizers.ByteLevelBpeTokenizer.CreateBytes();
        var baseDir = MathBases.SaveMicroCheckpoint(Path.Combine(_work, "base"), tokenizer);
        var problems = new ArithmeticProblemGenerator(new ArithmeticDifficulty(1, 1, "+", ArithmeticStyle.Bare)).Generate(40, seed: 1);
        var data = Path.Combine(_work, "problems.jsonl");
        Gsm8kLoader.Save(data, problems);
        var config = new PostTrainConfig(new TrainingSchedule(Steps: 1, BatchSize: 2, WarmupSteps: 0, Seed: 2),
            GroupSize: 2, MaxNewTokens: 8, EvalSize: 8, PassAtK: 1, EvalSamples: 1, FormatWarmupSteps: 3);
        var outDir = Path.Combine(_work, "out");

        var outcome = await PostTrainAsync(config, baseDir, data, null, outDir);

        Assert.True(outcome.ExitCode == JobExitCode.Done, outcome.Summary);
        var result = Result(outDir);
        Assert.NotNull(result.AfterFormatWarmup);
        Assert.Equal(3, result.FormatWarmupStepsTaken);
        Assert.Equal(32, result.TrainProblems);
        Assert.Equal(8, result.HeldOutProblems);
        Assert.Contains("| after format warm-up |", await File.ReadAllTextAsync(Path.Combine(outDir, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kl_reference_is_the_policy_as_grpo_starts_after_the_format_warmup_also_after_a_resume()
    {
        var (baseDir, _, trainPath, evalPath) = MathBases.SavePretrainedBase(_work, steps: 60);
        var config = new PostTrainConfig(
            new TrainingSchedule(Steps: 4, BatchSize: 4, LearningRate: 1e-3, WarmupSteps: 0, WeightDecay: 0.0, Seed: 8, CheckpointEvery: 2, ProgressEvery: 1),
            GroupSize: 8, MaxNewTokens: 24, EvalSize: 8, PassAtK: 1, EvalSamples: 1, FormatWarmupSteps: 5, Grpo: new GrpoConfig(KlWeight: 0.05));

        var wholeDir = Path.Combine(_work, "whole");
        Assert.Equal(JobExitCode.Done, (await PostTrainAsync(config, baseDir, trainPath, evalPath, wholeDir)).ExitCode);
        var whole = Result(wholeDir).Steps;
        var firstUpdate = whole.First(s => s.Updated);
        Assert.Equal(0.0, firstUpdate.Kl);                                            // the reference is the warmed-up policy
        Assert.Contains(whole, s => s.Updated && s.Step > firstUpdate.Step && s.Kl > 0); // and stays frozen while the policy moves

        var resumedDir = Path.Combine(_work, "resumed");
        using (var stop = new JobStopSignal())
        {
            var stopped = await PostTrainAsync(config, baseDir, trainPath, evalPath, resumedDir,
                e => { if (e.Kind == StageEventKind.Progress && e.Progress!.Step == 2) stop.Request(StopReason.UserCancel, "test stops after step 2"); }, stop);
            Assert.Equal(JobExitCode.Cancelled, stopped.ExitCode);
        }
        var again = await PostTrainAsync(config, baseDir, trainPath, evalPath, resumedDir);  // steps 3-4 from the step-2 checkpoint
        Assert.Equal(2, again.ResumedFromStep);
        var resumed = Result(resumedDir).Steps;
        Assert.Equal([3, 4], resumed.Select(s => s.Step));
        foreach (var (a, b) in whole.Skip(2).Zip(resumed))
        {
            Assert.Equal(a.Kl, b.Kl, 6);                                             // the same reference, rebuilt
            Assert.Equal(a.Loss, b.Loss, 6);
        }
    }
}

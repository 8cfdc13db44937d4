using Rmt.Contracts;
using Rmt.Jobs.Executors;
using Rmt.Training.PostTraining;

namespace Rmt.Jobs.Tests;

/// <summary>Every stage kind through the same runner, chained as the pipeline chains them: pretrain ->
/// mid-train (RMT) -> post-train (math GRPO) -> eval (math and next-token), each starting from the
/// checkpoint the previous one completed with. Tiny steps; what is checked is the wiring.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class StageChainTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Pretrain_midtrain_posttrain_and_eval_chain_through_the_runner_on_their_checkpoints()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("chain");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        var problems = new ArithmeticProblemGenerator(new ArithmeticDifficulty(Style: ArithmeticStyle.Bare)).Generate(12, seed: 3);
        var mathFile = Path.Combine(harness.WorkRoot, "math.jsonl");
        Directory.CreateDirectory(harness.WorkRoot);
        Gsm8kLoader.Save(mathFile, problems);
        var mathBlob = BlobLayout.Dataset(runId, "math.jsonl");
        await harness.Store.UploadFileAsync(mathBlob, mathFile);
        var runner = harness.Runner(StageExecutorCatalog.All());
        using var stop = new JobStopSignal();
        var schedule = new TrainingSchedule(Steps: 2, BatchSize: 2, LearningRate: 1e-3, WarmupSteps: 0, CheckpointEvery: 1, ProgressEvery: 1, Seed: 5);

        async Task<StageResult> RunStage(StageJob job)
        {
            var outcome = await runner.RunJsonAsync(RmtJson.Serialize(job), job.Stage, stop, CancellationToken.None);
            Assert.True(outcome.ExitCode == JobExitCode.Done, $"{job.Stage}: {outcome.Summary}\n{harness.Log.Text}");
            var events = await harness.DrainAsync(runId);
            Assert.Equal(StageEventKind.Completed, events[^1].Kind);
            Assert.All(events, e => Assert.Equal(job.Stage, e.Stage));
            return events[^1].Result!;
        }

        var pretrain = await RunStage(TinyJobs.Pretrain(runId, steps: 2) with
        {
            Pretrain = new PretrainConfig(schedule with { LearningRate = 3e-3 }, SequenceLength: 96, ModelPreset: "tiny"),
        });
        var midTrain = await RunStage(new StageJob(runId, "mid-train", StageKind.MidTrain, 1, BlobLayout.CheckpointPrefix(runId, "mid-train"),
            Dataset: TinyJobs.DatasetOf(runId), EvalDataset: TinyJobs.DatasetOf(runId), BaseCheckpoint: pretrain.Checkpoint!.Uri,
            MidTrain: new MidTrainConfig(schedule, GroupSize: 2, ContextTokens: 16, NtpTailTokens: 4,
                Budget: new BudgetConfig(Initial: 8, Minimum: 2), Rollout: new RolloutConfig(MaxReasoningTokens: 8))));
        Assert.Equal(2, midTrain.Checkpoint!.Step);
        Assert.InRange(midTrain.Metrics![StageMetricNames.Accuracy], 0.0, 1.0);
        Assert.Contains("## Held-out next-token accuracy", await harness.Store.ReadTextAsync(BlobLayout.StageReport(runId, "mid-train")), StringComparison.Ordinal);

        var postTrain = await RunStage(new StageJob(runId, "post-train", StageKind.PostTrain, 1, BlobLayout.CheckpointPrefix(runId, "post-train"),
            Dataset: mathBlob, BaseCheckpoint: midTrain.Checkpoint.Uri,
            PostTrain: new PostTrainConfig(schedule, GroupSize: 2, MaxNewTokens: 12, EvalSize: 4, PassAtK: 1, EvalSamples: 1)));
        Assert.Equal(2, postTrain.Checkpoint!.Step);
        Assert.InRange(postTrain.Metrics![StageMetricNames.AccuracyAfter], 0.0, 1.0);
        Assert.Contains("## Math post-training", await harness.Store.ReadTextAsync(BlobLayout.StageReport(runId, "post-train")), StringComparison.Ordinal);

        var mathEval = await RunStage(new StageJob(runId, "eval-math", StageKind.Eval, 1, BlobLayout.CheckpointPrefix(runId, "eval-math"),
            Dataset: mathBlob, BaseCheckpoint: postTrain.Checkpoint.Uri, Eval: new EvalConfig(MaxExamples: 3)));
        Assert.Null(mathEval.Checkpoint);
        Assert.Equal(3, mathEval.Metrics!["problems"]);
        Assert.InRange(mathEval.Metrics[StageMetricNames.Accuracy], 0.0, 1.0);
        var textEval = await RunStage(new StageJob(runId, "eval-text", StageKind.Eval, 1, BlobLayout.CheckpointPrefix(runId, "eval-text"),
            Dataset: TinyJobs.DatasetOf(runId), BaseCheckpoint: midTrain.Checkpoint.Uri, Eval: new EvalConfig(MaxExamples: 6)));
        Assert.InRange(textEval.Metrics![StageMetricNames.Accuracy], 0.0, 1.0);
        Assert.InRange(textEval.Metrics[StageMetricNames.Of(StageMetricNames.NtpBaseline, StageMetricNames.Accuracy)], 0.0, 1.0);
    }
}

using Rmt.Contracts;

namespace Rmt.Local.Demo;

/// <summary>How big the demo pipeline is. <see cref="Demo"/>: what ./run.sh runs, minutes on two CPU
/// cores. <see cref="Tiny"/>: the smallest pipeline that still runs every stage for real (integration
/// tests, smoke runs).</summary>
public enum DemoSize
{
    Demo,
    Tiny,
}

/// <summary>The demo's pipeline request: the tiny model pretrained from scratch on the demo corpus,
/// RMT mid-training on the same corpus, math post-training on the generated problems, evaluations.
/// Budgets and lengths are cut to what a byte-level model of a few hundred thousand parameters
/// produces; the stage timeout is long enough for the silent preparation steps (the mid-training
/// entropy pass over the corpus) on a busy laptop. The pretraining sequence length is the model's
/// context: long enough for a math problem and its answer (the evaluation skips longer ones).</summary>
public static class DemoRequest
{
    public static PipelineRequest Create(string runId, DemoSize size) => size switch
    {
        DemoSize.Tiny => new PipelineRequest(
            Datasets(),
            RunId: runId,
            Pretrain: new PretrainConfig(Schedule(steps: 4, batch: 2, checkpointEvery: 2, learningRate: 3e-3), SequenceLength: 128),
            MidTrain: new MidTrainConfig(Schedule(steps: 2, batch: 2, checkpointEvery: 1), GroupSize: 2, ContextTokens: 16, NtpTailTokens: 4,
                Budget: new BudgetConfig(Initial: 8, Minimum: 2), Rollout: new RolloutConfig(MaxReasoningTokens: 8)),
            PostTrain: new PostTrainConfig(Schedule(steps: 2, batch: 2, checkpointEvery: 1), GroupSize: 2, MaxNewTokens: 12, EvalSize: 4, PassAtK: 1, EvalSamples: 1),
            Eval: new EvalConfig(MaxExamples: 4),
            Options: new PipelineOptions(MaxAttempts: 3, PollSeconds: 1, StageTimeoutMinutes: 10)),
        _ => new PipelineRequest(
            Datasets(),
            RunId: runId,
            Pretrain: new PretrainConfig(Schedule(steps: 300, batch: 8, checkpointEvery: 100, learningRate: 3e-3), SequenceLength: 160),
            MidTrain: new MidTrainConfig(Schedule(steps: 16, batch: 2, checkpointEvery: 8), GroupSize: 4, ContextTokens: 32, NtpTailTokens: 8,
                Budget: new BudgetConfig(Initial: 24, Minimum: 4), Rollout: new RolloutConfig(MaxReasoningTokens: 24)),
            PostTrain: new PostTrainConfig(Schedule(steps: 16, batch: 2, checkpointEvery: 8), GroupSize: 4, MaxNewTokens: 24, EvalSize: 16, PassAtK: 2, EvalSamples: 2,
                FormatWarmupSteps: 20),
            Eval: new EvalConfig(MaxExamples: 16),
            Options: new PipelineOptions(MaxAttempts: 3, PollSeconds: 2, StageTimeoutMinutes: 30)),
    };

    /// <summary>Corpus lines and problems the demo writes for a size.</summary>
    public static (int CorpusLines, int TrainProblems, int TestProblems) DataSize(DemoSize size) =>
        size == DemoSize.Tiny ? (300, 40, 8) : (800, 200, 32);

    private static PipelineDatasets Datasets() =>
        new(MidTrain: DemoData.Corpus, PostTrain: DemoData.MathTrain, Pretrain: DemoData.Corpus, PostTrainEval: DemoData.MathTest);

    private static TrainingSchedule Schedule(int steps, int batch, int checkpointEvery, double learningRate = 1e-3) =>
        new(Steps: steps, BatchSize: batch, LearningRate: learningRate, WarmupSteps: Math.Min(10, steps / 4), CheckpointEvery: checkpointEvery,
            ProgressEvery: Math.Max(1, steps / 10), Device: "cpu");
}

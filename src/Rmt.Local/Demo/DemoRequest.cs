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

/// <summary>The demo's pipeline request: the tiny model pretrained from scratch on arithmetic text
/// and worked traces (DemoData), RMT mid-training on plain arithmetic text, scored on held-out text
/// against the untrained base with the same budget hint, then math post-training on the same sentences
/// asked as problems, evaluations. Lengths are in bytes (the byte-level tokenizer): a context of 64
/// holds the sentence up to the digit and the end of the one before; a concise trace at a sum digit
/// is about 40 ("4+8+7=19 3+5+2+1=11 =119 have - left 119"), a verbose one about 120, so the budget
/// anneals from B_0 = 96 to B_min = 40 and pretraining hints cover [20, 96]. The pretraining sequence
/// holds a whole worked example; pretraining is 1,500 steps of 16 x 256 tokens, two thirds of the
/// traces at sum digits (docs/rmt-trainer.md, "Post-training in mid-training's format, and a
/// three-number demo", has what this gives). Random operand digits sit at about ln 10 = 2.3 nats
/// under such a base, sum digits mostly below 1.5: the noise threshold of 2.0 nats keeps the operands
/// out of RL and out of the held-out score. Under this base the key positions of the mid-training
/// corpus (0.5 to 2.0 nats: 2,014 sum digits, 1,002 other characters such as the end of a sum) lie
/// mostly below 1.2 nats, so the paper's tier bounds (1.0, 1.5) would leave 4 positions in the hard
/// tier; the demo puts its medium and hard bounds at that corpus's entropy tertiles, 0.67 and 0.76
/// nats (measured on corpus.txt, not on the held-out text), so each tier holds a third. The format
/// warm-up runs at 5e-4, below pretraining's 2e-3: at 3e-3 the miniature's checkpoints ended it
/// anywhere between 5% and 96%, at 5e-4 its validation runs reached 98-99% (docs/rmt-trainer.md). The
/// stage timeout is long enough for the silent preparation steps (the entropy pass over the corpus) on
/// a busy laptop.</summary>
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
            Pretrain: new PretrainConfig(Schedule(steps: 1500, batch: 16, checkpointEvery: 500, learningRate: 2e-3), SequenceLength: 256),
            MidTrain: new MidTrainConfig(Schedule(steps: 80, batch: 4, checkpointEvery: 40, learningRate: 3e-5), GroupSize: 8, ContextTokens: 64, NtpTailTokens: 8,
                Budget: new BudgetConfig(Initial: 96, Minimum: 40), Rollout: new RolloutConfig(MaxReasoningTokens: 128),
                Curriculum: new CurriculumConfig(MediumThreshold: 0.67, HardThreshold: 0.76, NoiseThreshold: 2.0),
                EvalPositionsPerTier: 100),
            PostTrain: new PostTrainConfig(Schedule(steps: 40, batch: 4, checkpointEvery: 20, learningRate: 3e-5), GroupSize: 8, MaxNewTokens: 48, EvalSize: 48, PassAtK: 2, EvalSamples: 2,
                FormatWarmupSteps: 300, FormatWarmupLearningRate: 5e-4),
            Eval: new EvalConfig(MaxExamples: 48),
            Options: new PipelineOptions(MaxAttempts: 3, PollSeconds: 2, StageTimeoutMinutes: 30)),
    };

    /// <summary>How much data the demo writes for a size.</summary>
    public static DemoDataSize DataSize(DemoSize size) => size == DemoSize.Tiny
        ? new DemoDataSize(PretrainDocuments: 100, Traces: 100, CorpusDocuments: 100, EvalDocuments: 30, TrainProblems: 40, TestProblems: 8, ContextChars: 16, HintMin: 4, HintMax: 8)
        : new DemoDataSize(PretrainDocuments: 2000, Traces: 15000, CorpusDocuments: 600, EvalDocuments: 200, TrainProblems: 400, TestProblems: 64, ContextChars: 64, HintMin: 20, HintMax: 96);

    private static PipelineDatasets Datasets() =>
        new(MidTrain: DemoData.Corpus, PostTrain: DemoData.MathTrain, Pretrain: DemoData.Pretrain, PostTrainEval: DemoData.MathTest, MidTrainEval: DemoData.CorpusEval);

    private static TrainingSchedule Schedule(int steps, int batch, int checkpointEvery, double learningRate = 1e-3) =>
        new(Steps: steps, BatchSize: batch, LearningRate: learningRate, WarmupSteps: Math.Min(10, steps / 4), CheckpointEvery: checkpointEvery,
            ProgressEvery: Math.Max(1, steps / 10), Device: "cpu");
}

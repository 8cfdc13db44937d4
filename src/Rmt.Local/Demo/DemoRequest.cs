using Rmt.Contracts;

namespace Rmt.Local.Demo;

/// <summary>How big the demo pipeline is. <see cref="Demo"/>: what ./run.sh runs, about ten minutes on
/// two CPU cores. <see cref="Tiny"/>: the smallest pipeline that still runs every stage for real
/// (integration tests).</summary>
public enum DemoSize
{
    Demo,
    Tiny,
}

/// <summary>The demo's pipeline request: the tiny model pretrained from scratch on the demo corpus,
/// RMT mid-training on the same corpus, math post-training on the generated problems, evaluations.</summary>
public static class DemoRequest
{
    public static PipelineRequest Create(string runId, DemoSize size) => size switch
    {
        DemoSize.Tiny => new PipelineRequest(
            Datasets(),
            RunId: runId,
            Pretrain: new PretrainConfig(Schedule(steps: 6, batch: 4, checkpointEvery: 3), SequenceLength: 32),
            MidTrain: new MidTrainConfig(Schedule(steps: 2, batch: 2, checkpointEvery: 1), GroupSize: 2),
            PostTrain: new PostTrainConfig(Schedule(steps: 2, batch: 2, checkpointEvery: 1), GroupSize: 2),
            Eval: new EvalConfig(MaxExamples: 4),
            Options: new PipelineOptions(MaxAttempts: 3, PollSeconds: 1, StageTimeoutMinutes: 5)),
        _ => new PipelineRequest(
            Datasets(),
            RunId: runId,
            Pretrain: new PretrainConfig(Schedule(steps: 300, batch: 16, checkpointEvery: 100), SequenceLength: 64),
            MidTrain: new MidTrainConfig(Schedule(steps: 30, batch: 4, checkpointEvery: 10), GroupSize: 4),
            PostTrain: new PostTrainConfig(Schedule(steps: 30, batch: 4, checkpointEvery: 10), GroupSize: 4),
            Eval: new EvalConfig(MaxExamples: 64),
            Options: new PipelineOptions(MaxAttempts: 3, PollSeconds: 2, StageTimeoutMinutes: 10)),
    };

    private static PipelineDatasets Datasets() =>
        new(MidTrain: DemoData.Corpus, PostTrain: DemoData.MathTrain, Pretrain: DemoData.Corpus, PostTrainEval: DemoData.MathTest);

    private static TrainingSchedule Schedule(int steps, int batch, int checkpointEvery) =>
        new(Steps: steps, BatchSize: batch, WarmupSteps: Math.Min(10, steps / 4), CheckpointEvery: checkpointEvery,
            ProgressEvery: Math.Max(1, steps / 10), Device: "cpu");
}

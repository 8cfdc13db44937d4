using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>The stage jobs of a pipeline run, built from the request (pure; the orchestrator calls it).
/// Order: [pretrain, when the request has no base checkpoint] -> mid-train -> mid-train-eval ->
/// post-train (from the mid-training checkpoint) -> post-train-eval.</summary>
public static class StagePlan
{
    public static StageJob Pretrain(string runId, PipelineRequest request, string? traceParent) =>
        Job(runId, PipelineStages.Pretrain, StageKind.Pretrain, request.Datasets.Pretrain ?? request.Datasets.MidTrain, null, traceParent)
            with { Pretrain = request.Pretrain ?? new PretrainConfig() };

    public static StageJob MidTrain(string runId, PipelineRequest request, string baseCheckpoint, string? traceParent) =>
        Job(runId, PipelineStages.MidTrain, StageKind.MidTrain, request.Datasets.MidTrain, baseCheckpoint, traceParent)
            with { MidTrain = request.MidTrain ?? new MidTrainConfig(), EvalDataset = request.Datasets.MidTrainEval };

    /// <summary>Next-token reasoning evaluation of the mid-trained checkpoint on the held-out text when the
    /// request gives one, else on the mid-training corpus.</summary>
    public static StageJob MidTrainEval(string runId, PipelineRequest request, string checkpoint, string? traceParent) =>
        Job(runId, PipelineStages.MidTrainEval, StageKind.Eval, request.Datasets.MidTrainEval ?? request.Datasets.MidTrain, checkpoint, traceParent)
            with { Eval = request.Eval ?? new EvalConfig() };

    public static StageJob PostTrain(string runId, PipelineRequest request, string midTrainCheckpoint, string? traceParent) =>
        Job(runId, PipelineStages.PostTrain, StageKind.PostTrain, request.Datasets.PostTrain, midTrainCheckpoint, traceParent)
            with { PostTrain = request.PostTrain ?? new PostTrainConfig(), EvalDataset = request.Datasets.PostTrainEval };

    /// <summary>Math accuracy of the post-trained checkpoint on the held-out problems (or the post-training
    /// set when none are given).</summary>
    public static StageJob PostTrainEval(string runId, PipelineRequest request, string checkpoint, string? traceParent) =>
        Job(runId, PipelineStages.PostTrainEval, StageKind.Eval, request.Datasets.PostTrainEval ?? request.Datasets.PostTrain, checkpoint, traceParent)
            with { Eval = request.Eval ?? new EvalConfig() };

    private static StageJob Job(string runId, string stage, StageKind kind, string dataset, string? baseCheckpoint, string? traceParent) =>
        new(runId, stage, kind, Attempt: 1, OutputPrefix: BlobLayout.CheckpointPrefix(runId, stage),
            Dataset: dataset, BaseCheckpoint: baseCheckpoint, TraceParent: traceParent);
}

/// <summary>Blob paths of the pipeline's own bookkeeping (next to BlobLayout's shared ones).</summary>
public static class PipelineBlobs
{
    /// <summary>runs/{runId}/{stage}/dispatch/attempt-{n}.json: written after the job message was sent,
    /// so a retried dispatch activity does not send the same attempt twice.</summary>
    public static string DispatchRecord(string runId, string stage, int attempt) =>
        $"{BlobLayout.StageArtifacts(runId, stage)}/dispatch/attempt-{attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)}.json";
}

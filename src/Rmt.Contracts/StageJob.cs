namespace Rmt.Contracts;

/// <summary>One stage to run: the message on the job queue. Everything the trainer needs is here or
/// behind a blob path; no tensors, no large payloads.</summary>
public sealed record StageJob(
    string RunId,
    string Stage,                    // stage id within the run, e.g. "mid-train"; a blob path segment
    StageKind Kind,
    int Attempt,                     // 1, 2, ...: a new attempt resumes from the newest valid checkpoint
    string OutputPrefix,             // checkpoints/{runId}/{stage}
    string? Dataset = null,          // blob path of the input dataset
    string? BaseCheckpoint = null,   // blob path of the starting checkpoint; null = from scratch (pretrain only)
    PretrainConfig? Pretrain = null,
    MidTrainConfig? MidTrain = null,
    PostTrainConfig? PostTrain = null,
    EvalConfig? Eval = null,
    string? EvalDataset = null,      // held-out data for the stage's own evaluation
    string? TraceParent = null,      // W3C trace context of the pipeline that sent it
    int SchemaVersion = SchemaVersions.Current)
{
    /// <summary>Stable id of this attempt: the Service Bus message id and the claim key.</summary>
    public string MessageId => $"{RunId}/{Stage}/{Attempt}";

    public void Validate()
    {
        SchemaVersions.Check(SchemaVersion, "stage job");
        Validation.Id(RunId, "runId");
        Validation.Id(Stage, "stage");
        Validation.Range(Attempt, 1, 1000, "attempt");
        BlobLayout.Validate(OutputPrefix, "outputPrefix");
        if (Dataset is not null) BlobLayout.Validate(Dataset, "dataset");
        if (BaseCheckpoint is not null) BlobLayout.Validate(BaseCheckpoint, "baseCheckpoint");
        if (EvalDataset is not null) BlobLayout.Validate(EvalDataset, "evalDataset");
        var configs = new (StageKind Kind, object? Config, string Field)[]
        {
            (StageKind.Pretrain, Pretrain, "pretrain"), (StageKind.MidTrain, MidTrain, "midTrain"),
            (StageKind.PostTrain, PostTrain, "postTrain"), (StageKind.Eval, Eval, "eval"),
        };
        foreach (var (kind, config, field) in configs)
        {
            if (kind == Kind && config is null)
                throw new ContractException($"stage job of kind '{Kind.ToName()}' has no '{field}' config; add it");
            if (kind != Kind && config is not null)
                throw new ContractException($"stage job of kind '{Kind.ToName()}' carries a '{field}' config; remove it or change kind");
        }
        Pretrain?.Validate();
        MidTrain?.Validate();
        PostTrain?.Validate();
        Eval?.Validate();
        if (Kind != StageKind.Pretrain && BaseCheckpoint is null)
            throw new ContractException($"stage job of kind '{Kind.ToName()}' needs baseCheckpoint; only pretrain starts from scratch");
    }
}

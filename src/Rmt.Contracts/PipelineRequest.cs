namespace Rmt.Contracts;

/// <summary>What a user asks for: mid-train a model with RMT, then post-train it on math.
/// Only the datasets are required; everything else has a default that runs on a laptop.</summary>
public sealed record PipelineRequest(
    PipelineDatasets Datasets,
    int SchemaVersion = SchemaVersions.Current,
    string? RunId = null,            // generated when absent; reusing one resumes that run's artifacts
    string? BaseCheckpoint = null,   // blob path of an HF-format checkpoint; null pretrains a tiny model first
    PretrainConfig? Pretrain = null,
    MidTrainConfig? MidTrain = null,
    PostTrainConfig? PostTrain = null,
    EvalConfig? Eval = null,
    PipelineOptions? Options = null)
{
    public void Validate()
    {
        SchemaVersions.Check(SchemaVersion, "pipeline request");
        if (RunId is not null) Validation.Id(RunId, "runId");
        if (Datasets is null) throw new ContractException("datasets is missing; give at least datasets.midTrain and datasets.postTrain");
        Datasets.Validate(needsPretrainCorpus: BaseCheckpoint is null);
        if (BaseCheckpoint is not null) BlobLayout.Validate(BaseCheckpoint, "baseCheckpoint");
        Pretrain?.Validate();
        MidTrain?.Validate();
        PostTrain?.Validate();
        Eval?.Validate();
        Options?.Validate();
    }
}

/// <summary>Blob paths ("container/path") of the datasets a pipeline reads.</summary>
public sealed record PipelineDatasets(
    string MidTrain,                 // text corpus for next-token reasoning
    string PostTrain,                // GSM8K-format jsonl (question, answer with "#### x")
    string? Pretrain = null,         // corpus for from-scratch pretraining; defaults to MidTrain
    string? PostTrainEval = null,    // held-out problems; defaults to a split of PostTrain
    string? MidTrainEval = null)     // held-out text: mid-training then scores itself, the untrained base with the same hint and its argmax on it
{
    public void Validate(bool needsPretrainCorpus)
    {
        BlobLayout.Validate(MidTrain, "datasets.midTrain");
        BlobLayout.Validate(PostTrain, "datasets.postTrain");
        if (Pretrain is not null) BlobLayout.Validate(Pretrain, "datasets.pretrain");
        if (PostTrainEval is not null) BlobLayout.Validate(PostTrainEval, "datasets.postTrainEval");
        if (MidTrainEval is not null) BlobLayout.Validate(MidTrainEval, "datasets.midTrainEval");
        _ = needsPretrainCorpus; // MidTrain serves as the pretraining corpus when Pretrain is absent
    }
}

/// <summary>How the orchestration drives stages. Inputs, so that tests run fast.</summary>
public sealed record PipelineOptions(
    int MaxAttempts = 3,                    // a failed or timed-out stage is retried, resuming from its checkpoint
    int PollSeconds = 15,                   // monitor interval while a stage runs
    int StageTimeoutMinutes = 24 * 60,      // no event for this long fails the attempt (covers the queue wait for a GPU)
    int MaxPollsPerGeneration = 50,         // ContinueAsNew after this many polls keeps history bounded
    int HeartbeatTimeoutMinutes = 10)       // a claimed job silent this long is retried (it heartbeats every minute)
{
    public void Validate()
    {
        Validation.Range(MaxAttempts, 1, 20, "options.maxAttempts");
        Validation.Range(PollSeconds, 1, 3600, "options.pollSeconds");
        Validation.Range(StageTimeoutMinutes, 1, 60 * 24 * 14, "options.stageTimeoutMinutes");
        Validation.Range(MaxPollsPerGeneration, 1, 10_000, "options.maxPollsPerGeneration");
        Validation.Range(HeartbeatTimeoutMinutes, 2, 60 * 24, "options.heartbeatTimeoutMinutes");
    }
}

public static class SchemaVersions
{
    /// <summary>The schema version this build writes and reads.</summary>
    public const int Current = 1;

    public static void Check(int version, string document)
    {
        if (version != Current)
            throw new ContractException(
                $"{document}: schemaVersion {version} is not supported; this build reads schemaVersion {Current}. " +
                "Upgrade the component that reads it, or resend with schemaVersion " + Current);
    }
}

using System.Text.Json.Serialization;

namespace Rmt.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<StageEventKind>))]
public enum StageEventKind
{
    [JsonStringEnumMemberName("accepted")] Accepted,
    [JsonStringEnumMemberName("started")] Started,
    [JsonStringEnumMemberName("progress")] Progress,
    [JsonStringEnumMemberName("checkpoint-saved")] CheckpointSaved,
    [JsonStringEnumMemberName("completed")] Completed,
    [JsonStringEnumMemberName("failed")] Failed,
    /// <summary>The claimed job is alive (sent every minute or so, whatever the step takes): the
    /// orchestration retries an attempt whose heartbeat goes stale long before the stage timeout.</summary>
    [JsonStringEnumMemberName("heartbeat")] Heartbeat,
}

[JsonConverter(typeof(JsonStringEnumConverter<FailureKind>))]
public enum FailureKind
{
    /// <summary>The job or its inputs are wrong; retrying does not help.</summary>
    [JsonStringEnumMemberName("invalid-input")] InvalidInput,
    /// <summary>Storage, network or the machine failed; a retry may succeed.</summary>
    [JsonStringEnumMemberName("infrastructure")] Infrastructure,
    /// <summary>Training itself failed (NaN loss, out of memory).</summary>
    [JsonStringEnumMemberName("training")] Training,
    /// <summary>The job was asked to stop (SIGTERM, cancel); it saved a checkpoint first.</summary>
    [JsonStringEnumMemberName("cancelled")] Cancelled,
    /// <summary>The orchestration heard nothing from the job for too long.</summary>
    [JsonStringEnumMemberName("timeout")] Timeout,
}

/// <summary>Something that happened to one attempt of one stage. Sequence numbers count from 1 per
/// (run, stage, attempt); consumers order by (attempt, sequence) and tolerate duplicates and
/// reordering.</summary>
public sealed record StageEvent(
    string RunId,
    string Stage,
    int Attempt,
    long Sequence,
    DateTimeOffset Timestamp,
    StageEventKind Kind,
    string? Message = null,
    StageProgress? Progress = null,
    CheckpointRef? Checkpoint = null,     // checkpoint-saved and completed
    StageResult? Result = null,           // completed
    StageFailure? Failure = null,         // failed
    string? TraceParent = null,
    int SchemaVersion = SchemaVersions.Current)
{
    /// <summary>Stable id for duplicate detection (Service Bus message id).</summary>
    public string MessageId => $"{RunId}/{Stage}/{Attempt}/{Sequence}";

    public bool IsTerminal => Kind is StageEventKind.Completed or StageEventKind.Failed;

    public void Validate()
    {
        SchemaVersions.Check(SchemaVersion, "stage event");
        Validation.Id(RunId, "runId");
        Validation.Id(Stage, "stage");
        Validation.Range(Attempt, 1, 1000, "attempt");
        Validation.Range(Sequence, 1, long.MaxValue, "sequence");
        if (Kind == StageEventKind.Failed && Failure is null)
            throw new ContractException("a 'failed' stage event needs 'failure' (kind, message, retryable)");
        if (Kind == StageEventKind.Completed && Result is null)
            throw new ContractException("a 'completed' stage event needs 'result'");
        if (Kind == StageEventKind.CheckpointSaved && Checkpoint is null)
            throw new ContractException("a 'checkpoint-saved' stage event needs 'checkpoint'");
    }
}

/// <summary>Training progress, as the paper's plots need it. Absent values do not apply to the stage.</summary>
public sealed record StageProgress(
    long Step,
    long TotalSteps,
    double? Loss = null,
    double? Reward = null,
    double? Accuracy = null,
    double? Budget = null,               // B_t of the dynamic token budget
    double? ReasoningLength = null,      // mean reasoning tokens per response
    double? TokensPerSecond = null);

public sealed record CheckpointRef(string Uri, long Step);

public sealed record StageResult(
    CheckpointRef? Checkpoint = null,     // null for eval stages, which produce no checkpoint (JSON omits null, so it must be optional)
    string? ReportUri = null,
    string? MetricsUri = null,
    IReadOnlyDictionary<string, double>? Metrics = null);

public sealed record StageFailure(FailureKind Kind, string Message, bool Retryable);

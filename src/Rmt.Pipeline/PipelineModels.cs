using Rmt.Contracts;

namespace Rmt.Pipeline;

// The small records the orchestrations pass around. They travel through the durable backend as JSON
// (the default durable data converter), so they hold blob paths and numbers, never tensors or files.

/// <summary>How the orchestration drives one stage. Built from <see cref="PipelineOptions"/> for real
/// runs; tests pass millisecond intervals directly.</summary>
public sealed record MonitorSettings(
    int MaxAttempts,                 // attempts per stage; attempt n+1 resumes from the newest checkpoint
    TimeSpan PollInterval,           // durable timer between two drains of the event stream
    TimeSpan StageTimeout,           // no new event of the running attempt for this long: the attempt timed out
    int MaxPollsPerGeneration,       // ContinueAsNew after this many polls keeps the history bounded
    TimeSpan? HeartbeatTimeout = null) // an attempt that spoke (claimed) and then went silent this long is stale; null: StageTimeout only
{
    public static MonitorSettings From(PipelineOptions? options)
    {
        var o = options ?? new PipelineOptions();
        return new MonitorSettings(
            o.MaxAttempts, TimeSpan.FromSeconds(o.PollSeconds), TimeSpan.FromMinutes(o.StageTimeoutMinutes), o.MaxPollsPerGeneration,
            TimeSpan.FromMinutes(o.HeartbeatTimeoutMinutes));
    }

    public void Validate()
    {
        Validation.Range(MaxAttempts, 1, 1000, "monitor.maxAttempts");
        if (PollInterval <= TimeSpan.Zero) throw new ContractException($"monitor.pollInterval is {PollInterval}; it must be positive");
        if (StageTimeout <= TimeSpan.Zero) throw new ContractException($"monitor.stageTimeout is {StageTimeout}; it must be positive");
        Validation.Range(MaxPollsPerGeneration, 1, 100_000, "monitor.maxPollsPerGeneration");
        if (HeartbeatTimeout is { } h && h <= TimeSpan.Zero) throw new ContractException($"monitor.heartbeatTimeout is {h}; it must be positive, or null to rely on the stage timeout alone");
    }
}

/// <summary>Input of <see cref="PipelineOrchestrator"/> (instance id = run id).</summary>
public sealed record PipelineInput(
    string RunId,
    PipelineRequest Request,
    MonitorSettings Monitor,
    string? TraceParent = null);     // W3C traceparent of the submitting request; copied into every StageJob

/// <summary>Output of <see cref="PipelineOrchestrator"/>.</summary>
public sealed record PipelineOutput(
    string RunId,
    string Status,                   // completed, failed, cancelled
    IReadOnlyList<StageOutcome> Stages,
    string? ReportUri = null,        // runs/{runId}/report.md
    string? ManifestUri = null,      // runs/{runId}/manifest.json
    string? Reason = null);          // why it failed or was cancelled

/// <summary>Input of <see cref="StageOrchestrator"/>. <see cref="Carried"/> is set only by ContinueAsNew.</summary>
public sealed record StageInput(
    StageJob Job,                    // attempt 1 of the job; later attempts differ only in Attempt
    MonitorSettings Monitor,
    StageRunState? Carried = null);

/// <summary>What a stage orchestration carries across ContinueAsNew generations. <see cref="Try"/> counts
/// this orchestration's attempts (1..MaxAttempts); <see cref="Attempt"/> is the job attempt number the
/// dispatch got (equal to Try for a new run; higher when a resubmitted run id already used some).</summary>
public sealed record StageRunState(
    int Try,
    int Attempt,
    bool Dispatched,
    DateTime AttemptStartedAt,       // orchestration time of the dispatch
    StageFold Fold,
    int Generation,
    IReadOnlyList<string> AttemptFailures, // one line per failed attempt, for the final reason
    int Preemptions = 0);            // attempts stopped by SIGTERM (machine taken back): they do not use up MaxAttempts

/// <summary>How one stage ended. Always returned (never thrown) so the pipeline can report it.</summary>
public sealed record StageOutcome(
    string Stage,
    StageKind Kind,
    string Status,                   // completed, failed, cancelled
    int Attempts,
    StageResult? Result = null,
    StageProgress? LastProgress = null,
    string? Reason = null);

/// <summary>Custom status of both orchestrations: what a status endpoint shows while a run goes on.
/// The pipeline sets the stage and its sub-orchestration id; the stage sets attempt and progress.</summary>
public sealed record PipelineCustomStatus(
    string RunId,
    string Phase,                    // validating, running, reporting, completed, failed, cancelled
    string? Stage = null,
    StageKind? Kind = null,
    int Attempt = 0,
    int MaxAttempts = 0,
    string? StageInstanceId = null,
    StageProgress? Progress = null,
    CheckpointRef? LatestCheckpoint = null,
    string? Message = null,
    DateTime UpdatedAt = default);

public static class Phases
{
    public const string Validating = "validating";
    public const string Running = "running";
    public const string Reporting = "reporting";
}

// Activity inputs and outputs.

public sealed record ValidateRequestInput(string RunId, PipelineRequest Request, string? TraceParent = null);

public sealed record ValidateRequestResult(bool Valid, string? Error, string RequestUri);

/// <summary>Dispatch of one try of a stage. <see cref="DispatchId"/> identifies the try (stage instance and
/// try number); the job's Attempt is the lowest attempt number it may use.</summary>
public sealed record DispatchInput(StageJob Job, string DispatchId);

/// <summary>The attempt number the try got, and whether the message went out in this call.</summary>
public sealed record DispatchResult(string MessageId, int Attempt, bool Sent);

public sealed record DrainInput(string RunId, string Stage, string? TraceParent = null);

/// <summary>The new events of one stage (any attempt: the fold filters), and whether a cancel marker exists.</summary>
public sealed record DrainResult(IReadOnlyList<StageEvent> Events, int DrainedTotal, bool CancelRequested);

/// <summary>An attempt the orchestration gave up, and why (written into its stop marker).</summary>
public sealed record StopAttemptInput(string RunId, string Stage, int Attempt, string Reason, string? TraceParent = null);

public sealed record CancelMarkerInput(string RunId, string? Reason, string? TraceParent = null);

public sealed record ReportInput(
    string RunId,
    string Status,
    IReadOnlyList<StageOutcome> Stages,
    DateTime StartedAt,
    DateTime FinishedAt,
    string? Reason,
    string? TraceParent = null);

public sealed record ReportResult(string ReportUri, string ManifestUri, int Files);

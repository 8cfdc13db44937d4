namespace Rmt.Pipeline;

/// <summary>The durable names of the pipeline. Orchestrator and activity names carry a version:
/// a change to an orchestrator's replay behaviour gets a new name (RmtPipeline_v2) registered next to
/// the old one, so instances started by the previous build still replay against the code they began
/// with.</summary>
public static class PipelineNames
{
    public const string PipelineOrchestrator = "RmtPipeline_v1";
    public const string StageOrchestrator = "RmtStage_v1";

    public const string ValidateRequestActivity = "RmtValidateRequest_v1";
    public const string DispatchJobActivity = "RmtDispatchJob_v1";
    public const string DrainEventsActivity = "RmtDrainEvents_v1";
    public const string WriteCancelMarkerActivity = "RmtWriteCancelMarker_v1";
    public const string StopAttemptActivity = "RmtStopAttempt_v1";
    public const string WriteReportActivity = "RmtWriteReport_v1";

    /// <summary>External event that cancels a run (payload: a reason string, may be null).</summary>
    public const string CancelEvent = "cancel";

    /// <summary>The ActivitySource of pipeline activities and handlers (OpenTelemetry: AddSource("Rmt.Pipeline")).</summary>
    public const string ActivitySourceName = "Rmt.Pipeline";
}

/// <summary>The stage ids of a pipeline run: blob path segments under checkpoints/{runId}/ and runs/{runId}/.</summary>
public static class PipelineStages
{
    public const string Pretrain = "pretrain";
    public const string MidTrain = "mid-train";
    public const string MidTrainEval = "mid-train-eval";
    public const string PostTrain = "post-train";
    public const string PostTrainEval = "post-train-eval";
}

/// <summary>How a stage or a run ended (RunStageRecord.Status and PipelineOutput.Status).</summary>
public static class Outcomes
{
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
    public const string Skipped = "skipped";
}

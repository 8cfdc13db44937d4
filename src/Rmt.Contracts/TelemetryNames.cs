namespace Rmt.Contracts;

/// <summary>The trainer's OpenTelemetry names: what the GPU job emits (Rmt.Jobs.JobTelemetry), what its
/// exporters subscribe to (Rmt.GpuJob) and what the Application Insights workbook queries
/// (infra/bicep/modules/workbook.json; tests/Rmt.Infra.Tests checks that they agree).
/// In Application Insights a Consumer span lands in <c>requests</c>, an Internal one in
/// <c>dependencies</c>, tags in <c>customDimensions</c>, histograms in <c>customMetrics</c>.</summary>
public static class TelemetryNames
{
    /// <summary>ActivitySource and Meter of the job lifecycle.</summary>
    public const string JobSource = "Rmt.Jobs";

    /// <summary>cloud_RoleName of the trainer in Application Insights.</summary>
    public const string JobService = "rmt-gpujob";

    /// <summary>The environment variable a job process continues its parent's trace from (W3C traceparent).</summary>
    public const string TraceParentVariable = "TRACEPARENT";

    // Spans
    /// <summary>One attempt of one stage in one process, claim to exit (Consumer: it consumes a job message).</summary>
    public const string JobSpan = "rmt.job";
    /// <summary>One optimizer step of a training stage, ended when the executor reports it.</summary>
    public const string TrainStepSpan = "rmt.train.step";
    /// <summary>One pass of an evaluation stage.</summary>
    public const string EvalStepSpan = "rmt.eval.step";
    /// <summary>Writing, uploading and verifying one checkpoint.</summary>
    public const string CheckpointSpan = "rmt.job.checkpoint";

    // Tags (span attributes and metric dimensions)
    public const string RunIdTag = "rmt.run_id";
    public const string StageTag = "rmt.stage";
    public const string KindTag = "rmt.kind";
    public const string AttemptTag = "rmt.attempt";
    public const string StepTag = "rmt.step";
    public const string TotalStepsTag = "rmt.total_steps";
    public const string LossTag = "rmt.loss";
    public const string RewardTag = "rmt.reward";
    public const string AccuracyTag = "rmt.accuracy";
    public const string TokensPerSecondTag = "rmt.tokens_per_second";
    public const string ExitCodeTag = "rmt.exit_code";
    /// <summary>On the first step span of a process: its time includes building the model and loading the checkpoint.</summary>
    public const string IncludesSetupTag = "rmt.includes_setup";

    // Metrics (histograms: Application Insights keeps count, sum, min and max per export interval)
    public const string LossMetric = "rmt.train.loss";
    public const string RewardMetric = "rmt.train.reward";
    public const string AccuracyMetric = "rmt.train.accuracy";
    public const string TokensPerSecondMetric = "rmt.train.tokens_per_second";
    public const string StepTimeMetric = "rmt.train.step_time";

    public static readonly IReadOnlyList<string> Metrics = [LossMetric, RewardMetric, AccuracyMetric, TokensPerSecondMetric, StepTimeMetric];
}

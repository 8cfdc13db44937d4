using System.Diagnostics;
using System.Diagnostics.Metrics;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>Spans and metrics of the job lifecycle (names in <see cref="TelemetryNames"/>). Nothing here
/// exports: with no listener (no exporter configured, as in most tests) every call is a no-op. Rmt.GpuJob
/// subscribes the exporters (Azure Monitor in the container, the console with --trace).
/// <para>Trace: a <see cref="TelemetryNames.JobSpan"/> per attempt continues the trace the process was
/// started under (TRACEPARENT: the local job runner's span) or else the job's own
/// <see cref="StageJob.TraceParent"/> (Azure: the pipeline's, carried in the job message), so the trainer's
/// spans join the run's trace from the HTTP request on. Its children: a step span per optimizer step (or
/// evaluation pass) and a span per checkpoint upload.</para>
/// <para>Metrics: loss, reward, accuracy, tokens/s and step time as histograms per run and stage.</para></summary>
public static class JobTelemetry
{
    public static readonly ActivitySource Source = new(TelemetryNames.JobSource);
    private static readonly Meter Meter = new(TelemetryNames.JobSource);

    private static readonly Histogram<double> Loss = Meter.CreateHistogram<double>(TelemetryNames.LossMetric, description: "training loss per step");
    private static readonly Histogram<double> Reward = Meter.CreateHistogram<double>(TelemetryNames.RewardMetric, description: "mean rollout reward per step");
    private static readonly Histogram<double> Accuracy = Meter.CreateHistogram<double>(TelemetryNames.AccuracyMetric, description: "rollout or evaluation accuracy per step");
    private static readonly Histogram<double> TokensPerSecond = Meter.CreateHistogram<double>(TelemetryNames.TokensPerSecondMetric, "{token}/s", "training throughput per step");
    private static readonly Histogram<double> StepTime = Meter.CreateHistogram<double>(TelemetryNames.StepTimeMetric, "s", "wall time of one step (the first step of a process is left out: it includes setup)");

    /// <summary>The parent of a job's span: the process's own TRACEPARENT when it has one, else the job's.</summary>
    public static ActivityContext ParentOf(StageJob job, string? processTraceParent) =>
        ActivityContext.TryParse(processTraceParent, null, out var process) ? process
        : ActivityContext.TryParse(job.TraceParent, null, out var fromJob) ? fromJob
        : default;

    /// <summary>Starts the span of one attempt (null when nobody listens).</summary>
    public static Activity? StartJob(StageJob job, string? processTraceParent, string host)
    {
        var span = Source.StartActivity(TelemetryNames.JobSpan, ActivityKind.Consumer, ParentOf(job, processTraceParent), Tags(job));
        span?.SetTag(TelemetryNames.AttemptTag, job.Attempt);
        span?.SetTag("host.name", host);
        return span;
    }

    /// <summary>Records how the attempt ended on its span.</summary>
    public static void End(Activity? span, JobOutcome outcome)
    {
        if (span is null) return;
        span.SetTag(TelemetryNames.ExitCodeTag, outcome.ProcessExitCode);
        if (outcome.Failure is { } failure)
            span.SetStatus(ActivityStatusCode.Error, $"{failure.Kind}: {failure.Message}");
        else
            span.SetStatus(ActivityStatusCode.Ok);
    }

    private static KeyValuePair<string, object?>[] Tags(StageJob job) =>
    [
        new(TelemetryNames.RunIdTag, job.RunId),
        new(TelemetryNames.StageTag, job.Stage),
        new(TelemetryNames.KindTag, job.Kind.ToName()),
    ];

    /// <summary>The step spans and metrics of one attempt. A step's span runs from the end of the
    /// previous step's report (or from <see cref="Begin"/>) to its own report, so it covers the step's
    /// computation, not the progress events and checkpoint uploads after it.</summary>
    public sealed class Steps(StageJob job, TimeProvider time)
    {
        private readonly KeyValuePair<string, object?>[] _tags = Tags(job);
        private readonly string _spanName = job.Kind == StageKind.Eval ? TelemetryNames.EvalStepSpan : TelemetryNames.TrainStepSpan;
        private DateTimeOffset _stepStart = time.GetUtcNow();
        private bool _first = true;

        /// <summary>The executor is about to run: the first step's clock starts.</summary>
        public void Begin() => _stepStart = time.GetUtcNow();

        /// <summary>Wraps a per-step callback of <see cref="StageContext"/>: records the step, runs the callback,
        /// and starts the next step's clock when the callback is done (whether it returns or throws).</summary>
        public Func<StageProgress, CheckpointWriter, CancellationToken, Task> Around(Func<StageProgress, CheckpointWriter, CancellationToken, Task> afterStep) =>
            async (metrics, write, ct) =>
            {
                Record(metrics);
                try
                {
                    await afterStep(metrics, write, ct);
                }
                finally
                {
                    _stepStart = time.GetUtcNow();
                }
            };

        /// <inheritdoc cref="Around(Func{StageProgress, CheckpointWriter, CancellationToken, Task})"/>
        public Func<StageProgress, CancellationToken, Task> Around(Func<StageProgress, CancellationToken, Task> report) =>
            async (metrics, ct) =>
            {
                Record(metrics);
                try
                {
                    await report(metrics, ct);
                }
                finally
                {
                    _stepStart = time.GetUtcNow();
                }
            };

        private void Record(StageProgress metrics)
        {
            var end = time.GetUtcNow();
            var first = _first;
            _first = false;
            // A child of the current span (the attempt's), with its start set back to when the step began.
            using (var span = Source.StartActivity(_spanName, ActivityKind.Internal, Activity.Current?.Context ?? default, _tags, startTime: _stepStart))
            {
                if (span is not null)
                {
                    span.SetTag(TelemetryNames.StepTag, metrics.Step);
                    if (metrics.Loss is { } l) span.SetTag(TelemetryNames.LossTag, l);
                    if (metrics.Reward is { } r) span.SetTag(TelemetryNames.RewardTag, r);
                    if (metrics.Accuracy is { } a) span.SetTag(TelemetryNames.AccuracyTag, a);
                    if (metrics.TokensPerSecond is { } t) span.SetTag(TelemetryNames.TokensPerSecondTag, t);
                    if (first) span.SetTag(TelemetryNames.IncludesSetupTag, true);
                    span.SetEndTime(end.UtcDateTime);
                }
            }
            var tags = new TagList(_tags);
            if (metrics.Loss is { } loss) Loss.Record(loss, tags);
            if (metrics.Reward is { } reward) Reward.Record(reward, tags);
            if (metrics.Accuracy is { } accuracy) Accuracy.Record(accuracy, tags);
            if (metrics.TokensPerSecond is { } speed) TokensPerSecond.Record(speed, tags);
            if (!first) StepTime.Record((end - _stepStart).TotalSeconds, tags);
        }
    }

    /// <summary>The span of one checkpoint upload (a child of the attempt's span).</summary>
    public static Activity? StartCheckpoint(StageJob job, long step)
    {
        var span = Source.StartActivity(TelemetryNames.CheckpointSpan, ActivityKind.Internal, Activity.Current?.Context ?? default, Tags(job));
        span?.SetTag(TelemetryNames.StepTag, step);
        return span;
    }
}

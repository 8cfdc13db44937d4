using System.Diagnostics;

namespace Rmt.Pipeline;

/// <summary>W3C trace context for the pipeline: the submit handler captures the caller's traceparent,
/// the orchestration carries it in its input and copies it into every StageJob, and activities start
/// their spans under it, so one trace follows a run from the HTTP request into the trainer.</summary>
public static class PipelineTelemetry
{
    public static readonly ActivitySource Source = new(PipelineNames.ActivitySourceName);

    /// <summary>The current W3C traceparent ("00-{trace}-{span}-{flags}"), or null when there is none.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>Starts a span of an activity or handler as a child of <paramref name="traceParent"/>
    /// (null when nobody listens to "Rmt.Pipeline").</summary>
    public static Activity? Start(string name, string? traceParent, ActivityKind kind = ActivityKind.Internal, string? runId = null)
    {
        var parent = traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context) ? context : default;
        var span = Source.StartActivity(name, kind, parent);
        if (runId is not null) span?.SetTag("rmt.run_id", runId);
        return span;
    }

    /// <summary>The 32-hex trace id of a traceparent, or null.</summary>
    public static string? TraceIdOf(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context) ? context.TraceId.ToHexString() : null;
}

using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Rmt.Contracts;
using Rmt.Pipeline;

namespace Rmt.Local;

/// <summary>Logs and traces of the local host. Logs: Microsoft.Extensions.Logging console, one line
/// per entry, or JSON lines with --json-logs. Traces: OpenTelemetry over the sources of the HTTP API,
/// the pipeline and the job runner; --trace prints finished spans to the console. The trace context
/// goes HTTP request -> orchestration input -> StageJob.TraceParent -> this runner's span ->
/// TRACEPARENT of the trainer process, so one trace id follows a run into the trainer. With --trace the
/// trainer prints its own spans (Rmt.Jobs: job, steps, checkpoints) into its job log.</summary>
public static class LocalTelemetry
{
    public const string SourceName = "Rmt.Local";

    /// <summary>The environment variable a child process reads its parent span from (W3C traceparent).</summary>
    public const string TraceParentVariable = TelemetryNames.TraceParentVariable;

    public static readonly ActivitySource Source = new(SourceName);

    public static void AddLogging(ILoggingBuilder logging, bool json, LogLevel level)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(level);
        // The durable and Azure SDK internals are chatty at Information; keep their warnings.
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("DurableTask", LogLevel.Warning);
        logging.AddFilter("Grpc", LogLevel.Warning);
        logging.AddFilter("Azure", LogLevel.Warning);
        logging.AddFilter("System.Net.Http", LogLevel.Warning);
        if (json)
            logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        else
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            });
        logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
    }

    public static void AddTracing(IServiceCollection services, bool console)
    {
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("rmt-local"))
            .WithTracing(t =>
            {
                t.AddSource(SourceName, PipelineNames.ActivitySourceName);
                if (console) t.AddConsoleExporter();
            });
    }
}

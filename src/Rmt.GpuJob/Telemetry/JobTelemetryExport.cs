using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Rmt.Contracts;

namespace Rmt.GpuJob.Telemetry;

/// <summary>Where the job's spans and metrics (Rmt.Jobs.JobTelemetry) go, from the job's settings:
/// <list type="bullet">
/// <item>APPLICATIONINSIGHTS_CONNECTION_STRING set (the Container Apps job, infra/bicep): both to Azure
///   Monitor, authenticated with the job's managed identity (DefaultAzureCredential with AZURE_CLIENT_ID;
///   the component refuses key-only ingestion, so the connection string alone authorizes nothing);</item>
/// <item>--trace: the spans to the console (locally they land in the job's log, .rmt/jobs/logs/);</item>
/// <item>neither: nothing is subscribed, and the instrumentation costs nothing.</item>
/// </list></summary>
/// <param name="ConnectionString">The Application Insights connection string, or null.</param>
/// <param name="ManagedIdentityClientId">Client id of the user-assigned identity (AZURE_CLIENT_ID), or null for DefaultAzureCredential's own choice.</param>
/// <param name="Console">Print finished spans to the console.</param>
public sealed record JobTelemetrySettings(string? ConnectionString, string? ManagedIdentityClientId, bool Console)
{
    public static JobTelemetrySettings FromSettings(Func<string, string?> settings, bool console) => new(
        Trimmed(settings(RmtSettings.ApplicationInsightsConnectionString)),
        Trimmed(settings(RmtSettings.ManagedIdentityClientId)),
        console);

    public static JobTelemetrySettings FromEnvironment(bool console) => FromSettings(Environment.GetEnvironmentVariable, console);

    private static string? Trimmed(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    public bool ToAzureMonitor => ConnectionString is not null;

    public bool Enabled => ToAzureMonitor || Console;

    /// <summary>A connection string without an instrumentation key or connection string id cannot be sent to.</summary>
    public void Validate()
    {
        if (ConnectionString is null) return;
        var keys = ConnectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2)[0].Trim())
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (!keys.Contains("InstrumentationKey"))
            throw new ContractException($"{RmtSettings.ApplicationInsightsConnectionString} has no InstrumentationKey; " +
                "set it to the Application Insights component's connection string (infra/bicep sets it on the job), or unset it to export nothing");
    }

    /// <summary>How the exporter gets its Entra ID tokens: the job's user-assigned managed identity in Azure.</summary>
    public DefaultAzureCredentialOptions CredentialOptions() => new() { ManagedIdentityClientId = ManagedIdentityClientId };

    /// <summary>The Azure Monitor exporter's options (traces and metrics share them).</summary>
    public void Configure(AzureMonitorExporterOptions options, TokenCredential credential)
    {
        options.ConnectionString = ConnectionString;
        options.Credential = credential;
        // A trainer's spans are few (one per step) and make its curves: keep every one.
        options.SamplingRatio = 1.0F;
        options.TracesPerSecond = null;
    }
}

/// <summary>The job process's tracer and meter providers; disposing flushes what is left (bounded, so
/// an unreachable endpoint cannot hold the exit of a finished job).</summary>
public sealed class JobTelemetryExport : IDisposable
{
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(15);

    private JobTelemetryExport(TracerProvider? traces, MeterProvider? metrics)
    {
        Traces = traces;
        Metrics = metrics;
    }

    public TracerProvider? Traces { get; }
    public MeterProvider? Metrics { get; }

    public static JobTelemetryExport Start(JobTelemetrySettings settings)
    {
        settings.Validate();
        if (!settings.Enabled) return new JobTelemetryExport(null, null);
        var credential = settings.ToAzureMonitor ? new DefaultAzureCredential(settings.CredentialOptions()) : null;
        var resource = ResourceBuilder.CreateDefault().AddService(TelemetryNames.JobService, serviceInstanceId: Environment.MachineName);

        // The job's spans continue a parent from another process (TRACEPARENT or the job message), whose
        // sampled flag says nothing about this process: record every span it makes.
        var traces = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(TelemetryNames.JobSource);
        if (settings.ToAzureMonitor) traces.AddAzureMonitorTraceExporter(o => settings.Configure(o, credential!));
        if (settings.Console) traces.AddConsoleExporter();
        traces.SetSampler(new AlwaysOnSampler());

        MeterProvider? metrics = null;
        if (settings.ToAzureMonitor)
            metrics = Sdk.CreateMeterProviderBuilder()
                .SetResourceBuilder(resource)
                .AddMeter(TelemetryNames.JobSource)
                .AddAzureMonitorMetricExporter(o => settings.Configure(o, credential!))
                .Build();
        return new JobTelemetryExport(traces.Build(), metrics);
    }

    public void Dispose()
    {
        var timeout = (int)FlushTimeout.TotalMilliseconds;
        Traces?.Shutdown(timeout);
        Metrics?.Shutdown(timeout);
        Traces?.Dispose();
        Metrics?.Dispose();
    }
}

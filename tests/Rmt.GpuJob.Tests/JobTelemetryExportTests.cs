using System.Diagnostics;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Rmt.Contracts;
using Rmt.GpuJob.Telemetry;
using Rmt.Jobs;

namespace Rmt.GpuJob.Tests;

/// <summary>Where the job's spans and metrics go, from its settings: Azure Monitor with the job's
/// managed identity when APPLICATIONINSIGHTS_CONNECTION_STRING is set (as infra/bicep sets it), the
/// console with --trace, nowhere otherwise. Nothing here sends to Azure (this machine cannot reach it):
/// the exporter is configured and built, never flushed with data.</summary>
public sealed class JobTelemetryExportTests
{
    private const string ConnectionString =
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://swedencentral-0.in.applicationinsights.azure.com/;" +
        "LiveEndpoint=https://swedencentral.livediagnostics.monitor.azure.com/;ApplicationId=11111111-1111-1111-1111-111111111111";

    private static JobTelemetrySettings From(bool console, params (string Name, string Value)[] settings)
    {
        var values = settings.ToDictionary(s => s.Name, s => s.Value);
        return JobTelemetrySettings.FromSettings(name => values.GetValueOrDefault(name), console);
    }

    [Fact]
    public void The_connection_string_turns_azure_monitor_on_with_the_jobs_user_assigned_identity()
    {
        var settings = From(false, (RmtSettings.ApplicationInsightsConnectionString, ConnectionString), (RmtSettings.ManagedIdentityClientId, "job-identity-client-id"));

        Assert.True(settings.ToAzureMonitor);
        Assert.True(settings.Enabled);
        Assert.Equal("job-identity-client-id", settings.CredentialOptions().ManagedIdentityClientId);
        var credential = new DefaultAzureCredential(settings.CredentialOptions());
        var options = new AzureMonitorExporterOptions();
        settings.Configure(options, credential);
        Assert.Equal(ConnectionString, options.ConnectionString);
        Assert.Same(credential, options.Credential); // Entra ID: the component refuses key-only ingestion
        Assert.Equal(1.0F, options.SamplingRatio);   // every step span is a point of a training curve
        Assert.Null(options.TracesPerSecond);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Without_a_connection_string_or_trace_nothing_is_exported(string? value)
    {
        var settings = value is null
            ? From(false, (RmtSettings.ManagedIdentityClientId, "id"))
            : From(false, (RmtSettings.ApplicationInsightsConnectionString, value));
        Assert.False(settings.ToAzureMonitor);
        Assert.False(settings.Enabled);
        using var export = JobTelemetryExport.Start(settings);
        Assert.Null(export.Traces);
        Assert.Null(export.Metrics);
    }

    [Fact]
    public void A_connection_string_without_an_instrumentation_key_fails_with_the_setting_named()
    {
        var settings = From(false, (RmtSettings.ApplicationInsightsConnectionString, "IngestionEndpoint=https://example.invalid/"));
        var e = Assert.Throws<ContractException>(() => JobTelemetryExport.Start(settings));
        Assert.Contains(RmtSettings.ApplicationInsightsConnectionString, e.Message, StringComparison.Ordinal);
        Assert.Contains("InstrumentationKey", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Azure_monitor_builds_a_tracer_and_a_meter_provider_and_trace_only_a_tracer()
    {
        using (var azure = JobTelemetryExport.Start(From(false, (RmtSettings.ApplicationInsightsConnectionString, ConnectionString))))
        {
            Assert.NotNull(azure.Traces);
            Assert.NotNull(azure.Metrics);
        }
        using var console = JobTelemetryExport.Start(From(true));
        Assert.NotNull(console.Traces);
        Assert.Null(console.Metrics);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Job_spans_are_recorded_even_when_the_parent_process_did_not_sample_its_span(bool azureMonitor)
    {
        using var export = JobTelemetryExport.Start(azureMonitor
            ? From(false, (RmtSettings.ApplicationInsightsConnectionString, ConnectionString))
            : From(true));
        var unsampled = ActivityContext.Parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", null);
        using var span = JobTelemetry.Source.StartActivity(TelemetryNames.JobSpan, ActivityKind.Consumer, unsampled);
        Assert.NotNull(span);
        Assert.True(span.Recorded);
        Assert.Equal(unsampled.TraceId, span.TraceId);
        span.ActivityTraceFlags = ActivityTraceFlags.None; // not exported at shutdown: Azure cannot be reached from here
    }
}

using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Functions;
using Rmt.Pipeline;

// The Functions app: HTTP API + scheduled retraining + the pipeline's orchestrations and activities.
// Storage, queues and Service Bus are reached with the managed identity (RMT_* settings, no keys);
// the durable backend uses AzureWebJobsStorage__accountName / __credential / __clientId (host.json).
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();

// Logs and requests to Application Insights (APPLICATIONINSIGHTS_CONNECTION_STRING, Entra ID auth by
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING); the worker's own logs are not filtered down to warnings.
builder.Services
    .AddApplicationInsightsTelemetryWorkerService()
    .ConfigureFunctionsApplicationInsights();
builder.Logging.Services.Configure<LoggerFilterOptions>(options =>
{
    var aiDefault = options.Rules.FirstOrDefault(r => r.ProviderName == "Microsoft.Extensions.Logging.ApplicationInsights.ApplicationInsightsLoggerProvider");
    if (aiDefault is not null) options.Rules.Remove(aiDefault);
});

// The pipeline's spans (submit, dispatch, drain, report): one trace per run, from the HTTP request
// through the orchestration into the trainer (StageJob.TraceParent), exported to the same resource.
var appInsights = builder.Configuration[RmtSettings.ApplicationInsightsConnectionString];
builder.Services.AddOpenTelemetry().WithTracing(tracing =>
{
    tracing.AddSource(PipelineNames.ActivitySourceName);
    if (!string.IsNullOrWhiteSpace(appInsights))
        tracing.AddAzureMonitorTraceExporter(o =>
        {
            o.ConnectionString = appInsights;
            o.Credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions
            {
                ManagedIdentityClientId = builder.Configuration[RmtSettings.ManagedIdentityClientId],
            });
        });
});

FunctionsServices.AddRmtCloud(builder.Services, name => builder.Configuration[name]);
builder.Build().Run();

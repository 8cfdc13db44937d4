namespace Rmt.Contracts;

/// <summary>Every setting (environment variable / app setting) the Functions app, the local host and
/// the GPU job read. Infrastructure provides exactly these; a test checks the Bicep output against
/// this list. No keys: Azure uses managed identity; connection strings are for Azurite only.</summary>
public static class RmtSettings
{
    /// <summary>Blob service URI, e.g. https://{account}.blob.core.windows.net (Azure, identity-based).</summary>
    public const string BlobServiceUri = "RMT_BLOB_SERVICE_URI";

    /// <summary>Queue service URI, e.g. https://{account}.queue.core.windows.net (Azure, identity-based).</summary>
    public const string QueueServiceUri = "RMT_QUEUE_SERVICE_URI";

    /// <summary>Storage connection string: local development against Azurite only.</summary>
    public const string StorageConnectionString = "RMT_STORAGE_CONNECTION_STRING";

    /// <summary>Fully qualified Service Bus namespace ({name}.servicebus.windows.net). When set, jobs and
    /// stage events go over Service Bus; otherwise over Storage Queues.</summary>
    public const string ServiceBusNamespace = "RMT_SERVICEBUS_NAMESPACE";

    /// <summary>Job queue name (Service Bus queue or Storage queue).</summary>
    public const string JobQueue = "RMT_JOB_QUEUE";
    public const string DefaultJobQueue = "rmt-jobs";

    /// <summary>Stage-event topic (Service Bus) and its session-enabled subscription.</summary>
    public const string EventTopic = "RMT_EVENT_TOPIC";
    public const string DefaultEventTopic = "rmt-stage-events";
    public const string EventSubscription = "RMT_EVENT_SUBSCRIPTION";
    public const string DefaultEventSubscription = "orchestrator";

    /// <summary>Client id of the user-assigned managed identity (read by DefaultAzureCredential).</summary>
    public const string ManagedIdentityClientId = "AZURE_CLIENT_ID";

    /// <summary>CRON of the scheduled retraining timer (Functions), e.g. "0 0 3 * * 0".</summary>
    public const string ScheduleCron = "RMT_SCHEDULE_CRON";

    /// <summary>JSON of the PipelineRequest the timer submits.</summary>
    public const string ScheduleRequest = "RMT_SCHEDULE_REQUEST";

    /// <summary>Training device of the GPU job: "cuda" in the container, "cpu" locally.</summary>
    public const string Device = "RMT_DEVICE";

    /// <summary>Application Insights connection string (instrumentation key and ingestion endpoints, no
    /// secret: the component refuses key-only ingestion). When set, the GPU job exports its spans and
    /// metrics to Azure Monitor with its managed identity (AZURE_CLIENT_ID); the Functions app exports too.</summary>
    public const string ApplicationInsightsConnectionString = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    public static readonly IReadOnlyList<string> All =
    [
        BlobServiceUri, QueueServiceUri, StorageConnectionString, ServiceBusNamespace, JobQueue,
        EventTopic, EventSubscription, ManagedIdentityClientId, ScheduleCron, ScheduleRequest, Device,
        ApplicationInsightsConnectionString,
    ];

    /// <summary>What the Functions app (HTTP API, timer, orchestrations) reads in Azure. infra/bicep sets
    /// each as an app setting; tests/Rmt.Infra.Tests checks the compiled template against this list.</summary>
    public static readonly IReadOnlyList<string> FunctionsApp =
    [
        BlobServiceUri, QueueServiceUri, ServiceBusNamespace, JobQueue, EventTopic, EventSubscription,
        ManagedIdentityClientId, ScheduleCron, ScheduleRequest, ApplicationInsightsConnectionString,
    ];

    /// <summary>What the GPU job (the trainer container) reads in Azure. infra/bicep sets each as an
    /// environment variable of the Container Apps job; tests/Rmt.Infra.Tests checks them.</summary>
    public static readonly IReadOnlyList<string> GpuJob =
    [
        BlobServiceUri, QueueServiceUri, ServiceBusNamespace, JobQueue, EventTopic, ManagedIdentityClientId, Device,
        ApplicationInsightsConnectionString,
    ];

    /// <summary>Settings that must never be set in Azure (keys and connection strings; Azurite only).</summary>
    public static readonly IReadOnlyList<string> LocalOnly = [StorageConnectionString];
}

using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Messaging.ServiceBus;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Rmt.Cloud;

/// <summary>
/// Everything a host needs from the cloud, built from <see cref="CloudOptions"/>: the artifact
/// store, the job queue and the stage-event stream, on Azurite or Azure alike. Creating it does no
/// I/O; the first operation connects. Dispose it to close Service Bus connections.
/// <code>
/// await using var cloud = CloudClients.FromEnvironment(loggerFactory);
/// await cloud.Jobs.SendAsync(job);
/// </code>
/// </summary>
public sealed class CloudClients : IAsyncDisposable
{
    private CloudClients(
        CloudOptions options, BlobServiceClient blobService, QueueServiceClient? queueService, ServiceBusClient? serviceBus,
        IArtifactStore artifacts, IJobQueue jobs, IStageEventStream events)
    {
        Options = options;
        BlobService = blobService;
        QueueService = queueService;
        ServiceBus = serviceBus;
        Artifacts = artifacts;
        Jobs = jobs;
        Events = events;
    }

    public CloudOptions Options { get; }
    public IArtifactStore Artifacts { get; }
    public IJobQueue Jobs { get; }
    public IStageEventStream Events { get; }
    public BlobServiceClient BlobService { get; }

    /// <summary>Null when jobs and events go over Service Bus.</summary>
    public QueueServiceClient? QueueService { get; }

    /// <summary>Null when jobs and events go over Storage Queues.</summary>
    public ServiceBusClient? ServiceBus { get; }

    public static CloudClients FromEnvironment(ILoggerFactory? loggerFactory = null) =>
        Create(CloudOptions.FromEnvironment(), loggerFactory);

    public static CloudClients FromSettings(Func<string, string?> settings, ILoggerFactory? loggerFactory = null) =>
        Create(CloudOptions.FromSettings(settings), loggerFactory);

    /// <summary>Builds the clients. <paramref name="credential"/> defaults to DefaultAzureCredential
    /// (managed identity in Azure, with <see cref="CloudOptions.ManagedIdentityClientId"/> for a
    /// user-assigned one; the developer's az login elsewhere) and is only used for identity-based
    /// endpoints. <paramref name="storagePolicy"/> joins the blob and queue clients' pipelines once per
    /// try (the fault-injection tests and the chaos run pass a <see cref="Faults.FaultInjectionPolicy"/>).</summary>
    public static CloudClients Create(CloudOptions options, ILoggerFactory? loggerFactory = null, TokenCredential? credential = null,
        HttpPipelinePolicy? storagePolicy = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var logs = loggerFactory ?? NullLoggerFactory.Instance;
        if (options.UsesIdentity)
            credential ??= new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = options.ManagedIdentityClientId });

        var blobOptions = WithPolicy(new BlobClientOptions(), storagePolicy);
        var blobService = options.Storage == StorageAccess.ConnectionString
            ? new BlobServiceClient(options.StorageConnectionString, blobOptions)
            : new BlobServiceClient(options.BlobServiceUri, credential, blobOptions);
        var artifacts = new BlobArtifactStore(blobService, logs.CreateLogger<BlobArtifactStore>());

        if (options.Transport == MessagingTransport.ServiceBus)
        {
            var serviceBus = new ServiceBusClient(options.ServiceBusNamespace, credential);
            return new CloudClients(options, blobService, null, serviceBus, artifacts,
                new ServiceBusJobQueue(serviceBus, options.JobQueue, options.Messaging, logs.CreateLogger<ServiceBusJobQueue>()),
                new ServiceBusEventStream(serviceBus, options.EventTopic, options.EventSubscription, options.Messaging, logs.CreateLogger<ServiceBusEventStream>()));
        }

        var queueOptions = WithPolicy(new QueueClientOptions(), storagePolicy);
        var queueService = options.Storage == StorageAccess.ConnectionString
            ? new QueueServiceClient(options.StorageConnectionString, queueOptions)
            : new QueueServiceClient(options.QueueServiceUri, credential, queueOptions);
        return new CloudClients(options, blobService, queueService, null, artifacts,
            new StorageQueueJobQueue(queueService, options.JobQueue, options.Messaging, logs.CreateLogger<StorageQueueJobQueue>()),
            new StorageQueueEventStream(queueService, options.Messaging, logs.CreateLogger<StorageQueueEventStream>()));
    }

    private static T WithPolicy<T>(T clientOptions, HttpPipelinePolicy? policy) where T : ClientOptions
    {
        if (policy is not null) clientOptions.AddPolicy(policy, HttpPipelinePosition.PerRetry);
        return clientOptions;
    }

    public async ValueTask DisposeAsync()
    {
        if (Jobs is IAsyncDisposable jobs) await jobs.DisposeAsync();
        if (Events is IAsyncDisposable events) await events.DisposeAsync();
        if (ServiceBus is not null) await ServiceBus.DisposeAsync();
    }
}

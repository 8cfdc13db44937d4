using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>How blobs are reached: an Azurite connection string, or service URIs with a managed identity.</summary>
public enum StorageAccess
{
    ConnectionString,
    Identity,
}

/// <summary>What carries jobs and stage events.</summary>
public enum MessagingTransport
{
    StorageQueues,
    ServiceBus,
}

/// <summary>A setting that is missing or wrong. The message names the setting and the fix.</summary>
public sealed class CloudConfigurationException : Exception
{
    public CloudConfigurationException(string message) : base(message) { }
    public CloudConfigurationException(string message, Exception inner) : base(message, inner) { }
    public CloudConfigurationException() { }
}

/// <summary>
/// Where RMT's storage and messaging live, read from settings (<see cref="RmtSettings"/>; app
/// settings or environment variables):
/// <list type="bullet">
/// <item><c>RMT_STORAGE_CONNECTION_STRING</c> set: blobs and queues through it. Azurite only (the
/// development account); a real account's key is refused, Azure uses identities.</item>
/// <item>otherwise <c>RMT_BLOB_SERVICE_URI</c> (and <c>RMT_QUEUE_SERVICE_URI</c> when jobs and
/// events use Storage Queues) with <c>DefaultAzureCredential</c>; <c>AZURE_CLIENT_ID</c> picks a
/// user-assigned managed identity.</item>
/// <item><c>RMT_SERVICEBUS_NAMESPACE</c> set: jobs on the Service Bus queue <c>RMT_JOB_QUEUE</c>,
/// events on topic <c>RMT_EVENT_TOPIC</c> / subscription <c>RMT_EVENT_SUBSCRIPTION</c> (identity
/// based); otherwise both on Storage Queues.</item>
/// </list>
/// </summary>
public sealed record CloudOptions
{
    public string? StorageConnectionString { get; init; }
    public Uri? BlobServiceUri { get; init; }
    public Uri? QueueServiceUri { get; init; }

    /// <summary>Fully qualified namespace, "{name}.servicebus.windows.net".</summary>
    public string? ServiceBusNamespace { get; init; }

    public string JobQueue { get; init; } = RmtSettings.DefaultJobQueue;
    public string EventTopic { get; init; } = RmtSettings.DefaultEventTopic;
    public string EventSubscription { get; init; } = RmtSettings.DefaultEventSubscription;
    public string? ManagedIdentityClientId { get; init; }
    public MessagingOptions Messaging { get; init; } = new();

    public StorageAccess Storage => StorageConnectionString is null ? StorageAccess.Identity : StorageAccess.ConnectionString;

    public MessagingTransport Transport => ServiceBusNamespace is null ? MessagingTransport.StorageQueues : MessagingTransport.ServiceBus;

    /// <summary>Whether anything authenticates with DefaultAzureCredential.</summary>
    public bool UsesIdentity => Storage == StorageAccess.Identity || Transport == MessagingTransport.ServiceBus;

    /// <summary>Azurite (or any emulator) reached through its connection string.</summary>
    public static CloudOptions ForConnectionString(string connectionString, MessagingOptions? messaging = null) =>
        new() { StorageConnectionString = connectionString, Messaging = messaging ?? new MessagingOptions() };

    public static CloudOptions FromEnvironment() => FromSettings(Environment.GetEnvironmentVariable);

    /// <summary>Reads and validates the settings; blank values count as unset.</summary>
    public static CloudOptions FromSettings(Func<string, string?> settings, MessagingOptions? messaging = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        string? Get(string name) => settings(name) is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        var options = new CloudOptions
        {
            StorageConnectionString = Get(RmtSettings.StorageConnectionString),
            BlobServiceUri = ServiceUri(Get(RmtSettings.BlobServiceUri), RmtSettings.BlobServiceUri, "https://{account}.blob.core.windows.net"),
            QueueServiceUri = ServiceUri(Get(RmtSettings.QueueServiceUri), RmtSettings.QueueServiceUri, "https://{account}.queue.core.windows.net"),
            ServiceBusNamespace = Namespace(Get(RmtSettings.ServiceBusNamespace)),
            JobQueue = Get(RmtSettings.JobQueue) ?? RmtSettings.DefaultJobQueue,
            EventTopic = Get(RmtSettings.EventTopic) ?? RmtSettings.DefaultEventTopic,
            EventSubscription = Get(RmtSettings.EventSubscription) ?? RmtSettings.DefaultEventSubscription,
            ManagedIdentityClientId = Get(RmtSettings.ManagedIdentityClientId),
            Messaging = messaging ?? new MessagingOptions(),
        };
        options.Validate();
        return options;
    }

    public void Validate()
    {
        if (StorageConnectionString is not null)
        {
            if (!IsDevelopmentStorage(StorageConnectionString))
                throw new CloudConfigurationException(
                    $"{RmtSettings.StorageConnectionString} is for Azurite only (account devstoreaccount1 or UseDevelopmentStorage=true); " +
                    $"for an Azure storage account unset it and set {RmtSettings.BlobServiceUri} and {RmtSettings.QueueServiceUri}, " +
                    "and grant the managed identity the Storage Blob/Queue Data Contributor roles (no keys)");
        }
        else
        {
            if (BlobServiceUri is null)
                throw new CloudConfigurationException(
                    $"{RmtSettings.BlobServiceUri} is not set; set it to https://{{account}}.blob.core.windows.net " +
                    $"(or set {RmtSettings.StorageConnectionString} to an Azurite connection string for local runs)");
            if (Transport == MessagingTransport.StorageQueues && QueueServiceUri is null)
                throw new CloudConfigurationException(
                    $"{RmtSettings.QueueServiceUri} is not set; jobs and stage events use Storage Queues because {RmtSettings.ServiceBusNamespace} " +
                    $"is not set. Set {RmtSettings.QueueServiceUri} to https://{{account}}.queue.core.windows.net, or set {RmtSettings.ServiceBusNamespace}");
        }

        if (Transport == MessagingTransport.StorageQueues)
            Check(() => StorageQueueNames.Validate(JobQueue, RmtSettings.JobQueue));
        else
        {
            ServiceBusName(JobQueue, RmtSettings.JobQueue);
            ServiceBusName(EventTopic, RmtSettings.EventTopic);
            ServiceBusName(EventSubscription, RmtSettings.EventSubscription);
        }
        Check(Messaging.Validate);
    }

    private static bool IsDevelopmentStorage(string connectionString) =>
        connectionString.Contains("UseDevelopmentStorage=true", StringComparison.OrdinalIgnoreCase)
        || connectionString.Contains("AccountName=devstoreaccount1", StringComparison.OrdinalIgnoreCase);

    private static Uri? ServiceUri(string? value, string setting, string example)
    {
        if (value is null) return null;
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            throw new CloudConfigurationException($"{setting} '{value}' is not an absolute http(s) URI; use e.g. {example}");
        if (!string.IsNullOrEmpty(uri.UserInfo) || uri.Query.Contains("sig=", StringComparison.OrdinalIgnoreCase))
            throw new CloudConfigurationException($"{setting} carries credentials (user info or a SAS signature); give the bare service URI, e.g. {example}, and use a managed identity");
        return uri;
    }

    /// <summary>Accepts "{name}.servicebus.windows.net" or "sb://{name}.servicebus.windows.net/";
    /// refuses connection strings (no keys).</summary>
    private static string? Namespace(string? value)
    {
        if (value is null) return null;
        if (value.Contains("SharedAccessKey", StringComparison.OrdinalIgnoreCase) || value.Contains(';', StringComparison.Ordinal))
            throw new CloudConfigurationException(
                $"{RmtSettings.ServiceBusNamespace} looks like a connection string; give the fully qualified namespace " +
                "({name}.servicebus.windows.net) and grant the managed identity the Azure Service Bus Data Sender/Receiver roles (no keys)");
        var host = value.Contains("://", StringComparison.Ordinal) && Uri.TryCreate(value, UriKind.Absolute, out var uri) ? uri.Host : value.TrimEnd('/');
        if (!host.Contains('.', StringComparison.Ordinal) || host.Contains('/', StringComparison.Ordinal) || Uri.CheckHostName(host) != UriHostNameType.Dns)
            throw new CloudConfigurationException(
                $"{RmtSettings.ServiceBusNamespace} '{value}' is not a fully qualified namespace; use {{name}}.servicebus.windows.net");
        return host;
    }

    private static void ServiceBusName(string name, string setting)
    {
        if (name.Length is 0 or > 260 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '/')))
            throw new CloudConfigurationException(
                $"{setting} '{name}' is not a valid Service Bus entity name; use up to 260 letters, digits, '-', '.', '_' or '/'");
    }

    private static void Check(Action validate)
    {
        try
        {
            validate();
        }
        catch (Exception e) when (e is ArgumentException or ContractException)
        {
            throw new CloudConfigurationException(e.Message, e);
        }
    }
}

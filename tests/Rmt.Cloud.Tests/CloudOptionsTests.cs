using Azure.Core;
using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class CloudOptionsTests(AzuriteFixture azurite)
{
    private static Func<string, string?> Settings(params (string Name, string Value)[] values)
    {
        var map = values.ToDictionary(v => v.Name, v => v.Value);
        return name => map.GetValueOrDefault(name);
    }

    private static readonly (string, string) Blob = (RmtSettings.BlobServiceUri, "https://rmtstore.blob.core.windows.net");
    private static readonly (string, string) Queue = (RmtSettings.QueueServiceUri, "https://rmtstore.queue.core.windows.net");
    private static readonly (string, string) ServiceBus = (RmtSettings.ServiceBusNamespace, "rmt-bus.servicebus.windows.net");

    [Fact]
    public async Task Connection_string_selects_azurite_storage_and_storage_queues_that_work()
    {
        var options = CloudOptions.FromSettings(Settings((RmtSettings.StorageConnectionString, azurite.ConnectionString), (RmtSettings.JobQueue, Samples.RunId("jobs"))));
        await using var cloud = CloudClients.Create(options);
        var job = Samples.Job(Samples.RunId());

        await cloud.Artifacts.WriteTextAsync(BlobLayout.RunRequest(job.RunId), "{}");
        await cloud.Jobs.SendAsync(job);
        var received = await cloud.Jobs.ReceiveAsync(TimeSpan.FromSeconds(5));
        await cloud.Jobs.CompleteAsync(received!);

        Assert.Equal(StorageAccess.ConnectionString, options.Storage);
        Assert.Equal(MessagingTransport.StorageQueues, options.Transport);
        Assert.False(options.UsesIdentity);
        Assert.IsType<BlobArtifactStore>(cloud.Artifacts);
        Assert.IsType<StorageQueueJobQueue>(cloud.Jobs);
        Assert.IsType<StorageQueueEventStream>(cloud.Events);
        Assert.Null(cloud.ServiceBus);
        Assert.Equal("{}", await cloud.Artifacts.ReadTextAsync(BlobLayout.RunRequest(job.RunId)));
        Assert.Equal(job.MessageId, received!.Job!.MessageId);
    }

    [Fact]
    public async Task Service_uris_select_identity_based_storage_queues()
    {
        var options = CloudOptions.FromSettings(Settings(Blob, Queue, (RmtSettings.ManagedIdentityClientId, "11111111-2222-3333-4444-555555555555")));
        await using var cloud = CloudClients.Create(options);

        Assert.Equal(StorageAccess.Identity, options.Storage);
        Assert.Equal(MessagingTransport.StorageQueues, options.Transport);
        Assert.True(options.UsesIdentity);
        Assert.Equal("11111111-2222-3333-4444-555555555555", options.ManagedIdentityClientId);
        Assert.Equal("https://rmtstore.blob.core.windows.net/runs/r1/report.md", cloud.Artifacts.UriOf(BlobLayout.RunReport("r1")).ToString());
        Assert.Equal(new Uri("https://rmtstore.queue.core.windows.net"), cloud.QueueService!.Uri);
        Assert.IsType<StorageQueueJobQueue>(cloud.Jobs);
        Assert.Equal(RmtSettings.DefaultJobQueue, ((StorageQueueJobQueue)cloud.Jobs).QueueName);
    }

    [Fact]
    public async Task Service_bus_namespace_selects_service_bus_for_jobs_and_events()
    {
        var options = CloudOptions.FromSettings(Settings(Blob, ServiceBus, (RmtSettings.EventTopic, "events"), (RmtSettings.EventSubscription, "pipeline")));
        await using var cloud = CloudClients.Create(options, credential: new FixedCredential());

        Assert.Equal(MessagingTransport.ServiceBus, options.Transport);
        Assert.Equal("rmt-bus.servicebus.windows.net", cloud.ServiceBus!.FullyQualifiedNamespace);
        Assert.Null(cloud.QueueService); // no queue service URI needed
        Assert.Equal(RmtSettings.DefaultJobQueue, Assert.IsType<ServiceBusJobQueue>(cloud.Jobs).QueueName);
        var events = Assert.IsType<ServiceBusEventStream>(cloud.Events);
        Assert.Equal(("events", "pipeline"), (events.TopicName, events.SubscriptionName));
    }

    [Theory]
    [InlineData("sb://rmt-bus.servicebus.windows.net/")]
    [InlineData("rmt-bus.servicebus.windows.net/")]
    [InlineData("  rmt-bus.servicebus.windows.net  ")]
    public void Service_bus_namespace_is_normalized(string value)
    {
        var options = CloudOptions.FromSettings(Settings(Blob, (RmtSettings.ServiceBusNamespace, value)));

        Assert.Equal("rmt-bus.servicebus.windows.net", options.ServiceBusNamespace);
    }

    [Fact]
    public void Azurite_storage_with_service_bus_is_allowed()
    {
        var options = CloudOptions.FromSettings(Settings((RmtSettings.StorageConnectionString, "UseDevelopmentStorage=true"), ServiceBus));

        Assert.Equal((StorageAccess.ConnectionString, MessagingTransport.ServiceBus, true), (options.Storage, options.Transport, options.UsesIdentity));
    }

    public static TheoryData<string, string> BadSettings() => new()
    {
        { "", RmtSettings.BlobServiceUri },
        { $"{RmtSettings.BlobServiceUri}=https://a.blob.core.windows.net", RmtSettings.QueueServiceUri },
        { $"{RmtSettings.StorageConnectionString}=DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=abc=", "Azurite only" },
        { $"{RmtSettings.BlobServiceUri}=a.blob.core.windows.net|{RmtSettings.QueueServiceUri}=https://a.queue.core.windows.net", RmtSettings.BlobServiceUri },
        { $"{RmtSettings.BlobServiceUri}=https://a.blob.core.windows.net?sv=1&sig=x|{RmtSettings.QueueServiceUri}=https://a.queue.core.windows.net", "SAS" },
        { $"{RmtSettings.BlobServiceUri}=https://a.blob.core.windows.net|{RmtSettings.ServiceBusNamespace}=Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=v", "connection string" },
        { $"{RmtSettings.BlobServiceUri}=https://a.blob.core.windows.net|{RmtSettings.ServiceBusNamespace}=rmt-bus", RmtSettings.ServiceBusNamespace },
        { $"{RmtSettings.StorageConnectionString}=UseDevelopmentStorage=true|{RmtSettings.JobQueue}=Rmt_Jobs", RmtSettings.JobQueue },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void Missing_or_wrong_setting_is_named(string settings, string expected)
    {
        var values = settings.Split('|', StringSplitOptions.RemoveEmptyEntries).Select(s => (s[..s.IndexOf('=')], s[(s.IndexOf('=') + 1)..])).ToArray();

        var error = Assert.Throws<CloudConfigurationException>(() => CloudOptions.FromSettings(Settings(values)));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Blank_settings_count_as_unset()
    {
        var options = CloudOptions.FromSettings(Settings(Blob, Queue, (RmtSettings.ServiceBusNamespace, "  "), (RmtSettings.JobQueue, "")));

        Assert.Equal(MessagingTransport.StorageQueues, options.Transport);
        Assert.Equal(RmtSettings.DefaultJobQueue, options.JobQueue);
    }

    private sealed class FixedCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("no token is needed to build the clients");

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("no token is needed to build the clients");
    }
}

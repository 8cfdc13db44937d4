using System.Net;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rmt.Local.Durable;

/// <summary>The durable backend of the local host: the Durable Task gRPC sidecar
/// (<see cref="TaskHubGrpcServer"/>) on a loopback port, over DurableTask.AzureStorage, the backend
/// Durable Functions uses by default, pointed at Azurite. Orchestration history, instances and
/// timers live in Azurite's tables, queues and blobs, so a restarted host (on the same Azurite data)
/// continues every run where it stopped. The pipeline's worker and client connect with UseGrpc(<see cref="Channel"/>).
///
/// Caveat (DESIGN.md section 5): this sidecar does not renew activity locks, so activities must stay
/// short; the pipeline's activities only send a message, drain events or write a blob.</summary>
public sealed class AzuriteDurableBackend : IAsyncDisposable
{
    private readonly WebApplication _sidecar;

    private readonly IOrchestrationService _service;

    private AzuriteDurableBackend(WebApplication sidecar, IOrchestrationService service, string taskHub, string address)
    {
        _sidecar = sidecar;
        _service = service;
        TaskHub = taskHub;
        Address = address;
        Channel = GrpcChannel.ForAddress(address);
    }

    /// <summary>http://127.0.0.1:{port} of the sidecar (HTTP/2, no TLS: loopback only).</summary>
    public string Address { get; }

    public GrpcChannel Channel { get; }

    public string TaskHub { get; }

    /// <summary>Creates the task hub in Azurite if it does not exist and starts the sidecar.</summary>
    public static async Task<AzuriteDurableBackend> StartAsync(
        string storageConnectionString, DurableBackendOptions options, ILoggerFactory loggers, CancellationToken ct = default)
    {
        options.Validate();
        var settings = new AzureStorageOrchestrationServiceSettings
        {
            TaskHubName = options.TaskHub,
            StorageAccountClientProvider = new StorageAccountClientProvider(storageConnectionString),
            // One partition: one worker on one machine; fewer queues for Azurite to poll.
            PartitionCount = 1,
            // Idle queues are polled with back-off up to this; durable timers and new events wait at most this long.
            MaxQueuePollingInterval = options.MaxQueuePollingInterval,
            // The same worker id across restarts lets a restarted host take its partition back at once.
            WorkerId = options.WorkerId,
            LoggerFactory = loggers,
            // The sidecar neither renews nor, when the host stops, abandons the messages of work in
            // flight: they come back after this. Short, so that a restarted host goes on within
            // seconds; the pipeline's activities take well under it.
            ControlQueueVisibilityTimeout = options.MessageVisibilityTimeout,
            WorkItemQueueVisibilityTimeout = options.MessageVisibilityTimeout,
            // Azurite on a busy laptop can take more than the default 2 s for a partition-table write.
            PartitionTableOperationTimeout = TimeSpan.FromSeconds(30),
            MaxConcurrentTaskActivityWorkItems = 4,
            MaxConcurrentTaskOrchestrationWorkItems = 4,
        };
        var service = new AzureStorageOrchestrationService(settings);
        await service.CreateIfNotExistsAsync().WaitAsync(ct);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<IOrchestrationService>(new SidecarHistoryAdapter(service));
        builder.Services.AddSingleton<IOrchestrationServiceClient>(service);
        builder.Services.AddSingleton<TaskHubGrpcServer>();
        var app = builder.Build();
        app.MapGrpcService<TaskHubGrpcServer>();
        await app.StartAsync(ct);

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new AzuriteDurableBackend(app, service, options.TaskHub, address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _sidecar.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            // stopping took too long; the partition lease expires by itself
        }
        await _sidecar.DisposeAsync();
        // The sidecar stops its dispatchers but not the storage service's partition manager: stop it
        // here, before Azurite goes, so that it releases its lease instead of failing to renew it.
        await _service.StopAsync(isForced: false).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}

/// <summary>Task hub and polling of the local durable backend.</summary>
public sealed record DurableBackendOptions
{
    /// <summary>Names Azurite's durable tables, queues and containers (letters and digits, 3-45 characters).</summary>
    public string TaskHub { get; init; } = "rmtlocal";

    public string WorkerId { get; init; } = "rmt-local";

    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a taken durable message stays hidden (see the backend's remarks).</summary>
    public TimeSpan MessageVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public void Validate()
    {
        if (TaskHub.Length is < 3 or > 45 || !TaskHub.All(char.IsAsciiLetterOrDigit) || !char.IsAsciiLetter(TaskHub[0]))
            throw new ArgumentException($"task hub '{TaskHub}' must be 3-45 letters and digits, starting with a letter");
        if (MessageVisibilityTimeout < TimeSpan.FromSeconds(5))
            throw new ArgumentException($"the durable backend's message visibility timeout is {MessageVisibilityTimeout}; use at least 5 seconds");
        if (MaxQueuePollingInterval <= TimeSpan.Zero)
            throw new ArgumentException("the durable backend's maximum queue polling interval must be positive");
    }
}

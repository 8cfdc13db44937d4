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
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Rmt.Local.Hosting;

/// <summary>How the local durable backend (<see cref="DurableSidecar"/>) runs. The defaults suit one
/// host on a laptop over Azurite.</summary>
public sealed record DurableSidecarOptions
{
    /// <summary>Names the backend's queues, tables and containers (3-45 letters and digits, starting with a letter).</summary>
    public string TaskHubName { get; init; } = "rmt";

    /// <summary>gRPC sidecar port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>One control queue is plenty on a laptop and starts fastest.</summary>
    public int PartitionCount { get; init; } = 1;

    /// <summary>Who holds the partition leases; null uses the backend's default (the machine name).
    /// Keep it the same across restarts so that a restarted host takes its partitions back at once.</summary>
    public string? WorkerId { get; init; }

    /// <summary>Longest back-off between polls of an idle backend queue (Durable Functions' default is
    /// 30 s; a local run wants its next step promptly). Durable timers and new events wait at most this long.</summary>
    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long an orchestration message taken by a host that then died stays invisible before
    /// another host may take it (the default is 5 min); a restarted local host continues after this.</summary>
    public TimeSpan ControlQueueVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an activity message stays invisible once taken (the default is 5 min). The sidecar
    /// does not renew it, so it bounds an activity's duration (the pipeline's take well under a second),
    /// and it is how long an activity lost with a stopped host waits before it runs again.</summary>
    public TimeSpan WorkItemQueueVisibilityTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Azurite on a busy laptop can take more than the backend's default 2 s for a partition-table write.</summary>
    public TimeSpan PartitionTableOperationTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public int MaxConcurrentActivityWorkItems { get; init; } = 4;

    public int MaxConcurrentOrchestrationWorkItems { get; init; } = 4;

    public void Validate()
    {
        if (TaskHubName.Length is < 3 or > 45 || !TaskHubName.All(char.IsAsciiLetterOrDigit) || !char.IsAsciiLetter(TaskHubName[0]))
            throw new ArgumentException($"durable task hub '{TaskHubName}' must be 3-45 letters and digits, starting with a letter");
        if (Port is < 0 or > 65535)
            throw new ArgumentException($"durable sidecar port {Port} must be 0 (a free one) to 65535");
        if (PartitionCount is < 1 or > 16)
            throw new ArgumentException($"durable partition count {PartitionCount} must be 1 to 16");
        if (WorkerId is not null && string.IsNullOrWhiteSpace(WorkerId))
            throw new ArgumentException("durable worker id is blank; leave it null for the machine name or give a name");
        if (MaxQueuePollingInterval <= TimeSpan.Zero)
            throw new ArgumentException($"durable maximum queue polling interval is {MaxQueuePollingInterval}; it must be positive");
        if (ControlQueueVisibilityTimeout < TimeSpan.FromSeconds(5) || WorkItemQueueVisibilityTimeout < TimeSpan.FromSeconds(5))
            throw new ArgumentException($"durable message visibility timeouts are {ControlQueueVisibilityTimeout} (control) and {WorkItemQueueVisibilityTimeout} (work items); use at least 5 seconds");
        if (PartitionTableOperationTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"durable partition table operation timeout is {PartitionTableOperationTimeout}; it must be positive");
        if (MaxConcurrentActivityWorkItems < 1 || MaxConcurrentOrchestrationWorkItems < 1)
            throw new ArgumentException("durable maximum concurrent work items must be at least 1");
    }
}

/// <summary>The durable backend of local runs (DESIGN.md section 5) without a worker: the durable task
/// hub lives in Azure Storage (Azurite) through DurableTask.AzureStorage, the backend Durable Functions
/// uses, and the gRPC sidecar <see cref="TaskHubGrpcServer"/> serves it on 127.0.0.1. A
/// Microsoft.DurableTask worker and client connect with UseGrpc(<see cref="Channel"/>), in this process
/// (<see cref="AzuriteDurableBackend"/>, or a host's own DI) or another one (<see cref="Address"/>).
/// State survives a restart: a new sidecar on the same task hub continues the running instances.
///
/// Caveat: the sidecar neither renews activity work-item locks nor, when it stops, abandons the
/// messages in flight: an activity must finish within <see cref="DurableSidecarOptions.WorkItemQueueVisibilityTimeout"/>,
/// and work held by a stopped host comes back after the visibility timeouts.</summary>
public sealed class DurableSidecar : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly SidecarHistoryAdapter _guardedService;

    private DurableSidecar(IHost host, string address, string taskHub, AzureStorageOrchestrationService service, SidecarHistoryAdapter guardedService)
    {
        _host = host;
        Address = address;
        TaskHub = taskHub;
        OrchestrationService = service;
        _guardedService = guardedService;
        Channel = GrpcChannel.ForAddress(address);
    }

    /// <summary>http://127.0.0.1:{port} of the sidecar (HTTP/2, no TLS: loopback only).</summary>
    public string Address { get; }

    /// <summary>A channel to <see cref="Address"/>; disposed with the sidecar.</summary>
    public GrpcChannel Channel { get; }

    public string TaskHub { get; }

    public AzureStorageOrchestrationService OrchestrationService { get; }

    /// <summary>Creates the task hub in storage if it does not exist and starts the sidecar.</summary>
    /// <param name="storageConnectionString">Azurite (or any storage account reachable by connection string).</param>
    public static async Task<DurableSidecar> StartAsync(
        string storageConnectionString, DurableSidecarOptions options, ILoggerFactory? loggerFactory = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(storageConnectionString);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var logs = loggerFactory ?? NullLoggerFactory.Instance;
        var settings = new AzureStorageOrchestrationServiceSettings
        {
            TaskHubName = options.TaskHubName,
            StorageAccountClientProvider = new StorageAccountClientProvider(storageConnectionString),
            PartitionCount = options.PartitionCount,
            MaxQueuePollingInterval = options.MaxQueuePollingInterval,
            ControlQueueVisibilityTimeout = options.ControlQueueVisibilityTimeout,
            WorkItemQueueVisibilityTimeout = options.WorkItemQueueVisibilityTimeout,
            PartitionTableOperationTimeout = options.PartitionTableOperationTimeout,
            MaxConcurrentTaskActivityWorkItems = options.MaxConcurrentActivityWorkItems,
            MaxConcurrentTaskOrchestrationWorkItems = options.MaxConcurrentOrchestrationWorkItems,
            LoggerFactory = logs,
            CustomMessageTypeBinder = new ProtobufMapTypeBinder(),
        };
        if (options.WorkerId is not null) settings.WorkerId = options.WorkerId;
        var service = new AzureStorageOrchestrationService(settings);
        await service.CreateIfNotExistsAsync().WaitAsync(ct);
        var guardedService = new SidecarHistoryAdapter(service, logs.CreateLogger<DurableSidecar>());

        var host = new HostBuilder()
            .ConfigureLogging(l => l.Services.AddSingleton(logs))
            .ConfigureWebHost(web => web
                .UseKestrel(k => k.Listen(IPAddress.Loopback, options.Port, listen => listen.Protocols = HttpProtocols.Http2))
                .ConfigureServices(s =>
                {
                    s.AddGrpc();
                    s.AddSingleton<IOrchestrationService>(guardedService);
                    s.AddSingleton<IOrchestrationServiceClient>(service);
                    s.AddSingleton<TaskHubGrpcServer>();
                })
                .Configure(app =>
                {
                    app.UseRouting();
                    app.UseEndpoints(endpoints => endpoints.MapGrpcService<TaskHubGrpcServer>());
                }))
            .Build();
        await host.StartAsync(ct);
        var address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()
            .Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
        return new DurableSidecar(host, address, options.TaskHubName, service, guardedService);
    }

    /// <summary>Stops the storage service (once; later calls, the sidecar's own included, wait for the same
    /// stop; a service the sidecar never started is left alone): in-flight work items finish and the
    /// partition leases are released. Call it before stopping a worker that must answer while that happens;
    /// <see cref="DisposeAsync"/> calls it too. Never throws: a failed stop is logged.</summary>
    public Task StopOrchestrationServiceAsync() => _guardedService.StopAsync(isForced: false);

    /// <summary>Stops the sidecar (its dispatchers; its own stop callback stops the storage service
    /// through the same once-only guard), then waits for the storage service's stop, so that it releases
    /// its partition leases and a host started next takes over at once. A caller whose worker must still answer
    /// while in-flight work items finish calls <see cref="StopOrchestrationServiceAsync"/> before stopping
    /// that worker (<see cref="AzuriteDurableBackend"/> does). Running orchestrations stay in storage and
    /// continue when a sidecar on the same task hub starts again.</summary>
    public async ValueTask DisposeAsync()
    {
        await Channel.ShutdownAsync();
        Channel.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _host.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            // stopping took too long; the storage service is stopped below all the same
        }
        _host.Dispose();
        await StopOrchestrationServiceAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // only a timeout
    }
}

using System.Net;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Rmt.Pipeline.Hosting;

/// <summary>How the local durable backend runs.</summary>
public sealed record AzuriteDurableBackendOptions(
    string StorageConnectionString,           // Azurite (or any storage account reachable by connection string)
    string TaskHubName = "rmt",               // 3-45 letters/digits; names the backend's queues, tables and containers
    int Port = 0,                             // gRPC sidecar port on 127.0.0.1; 0 picks a free one
    int PartitionCount = 1)                   // one control queue is plenty on a laptop and starts fastest
{
    /// <summary>Longest back-off between polls of an idle backend queue (Durable Functions' default is
    /// 30 s; a local run wants its next step promptly).</summary>
    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long an orchestration message taken by a host that then died stays invisible before
    /// another host may take it (the default is 5 min); a restarted local host continues after this.</summary>
    public TimeSpan ControlQueueVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an activity message stays invisible once taken (the default is 5 min). The sidecar
    /// does not renew it, so it bounds an activity's duration (the pipeline's take well under a second),
    /// and it is how long an activity lost with a stopped host waits before it runs again.</summary>
    public TimeSpan WorkItemQueueVisibilityTimeout { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>The durable backend of local runs (DESIGN.md section 5): the durable task hub lives in
/// Azure Storage (Azurite) through DurableTask.AzureStorage, the backend Durable Functions uses; the
/// gRPC sidecar <see cref="TaskHubGrpcServer"/> serves it on 127.0.0.1; a Microsoft.DurableTask worker
/// (running the registered orchestrators and activities) and a client connect to it with UseGrpc.
/// State survives a restart: a new backend on the same task hub continues the running instances.
///
/// Caveat: the sidecar does not renew activity work-item locks, so an activity must finish within the
/// backend's work-item visibility timeout (5 min); the pipeline's activities take milliseconds.
/// <code>
/// await using var backend = await AzuriteDurableBackend.StartAsync(
///     new AzuriteDurableBackendOptions(azurite.ConnectionString), tasks => tasks.AddRmtPipeline(),
///     services => services.AddSingleton&lt;IArtifactStore&gt;(cloud.Artifacts) /* and IJobQueue, IStageEventStream */);
/// var handlers = new PipelineHandlers(backend.Client);
/// </code></summary>
public sealed class AzuriteDurableBackend : IAsyncDisposable
{
    private readonly IHost _sidecar;
    private readonly IHost _worker;
    private readonly GrpcChannel _channel;

    private AzuriteDurableBackend(IHost sidecar, IHost worker, GrpcChannel channel, string address, AzureStorageOrchestrationService service)
    {
        _sidecar = sidecar;
        _worker = worker;
        _channel = channel;
        Address = address;
        OrchestrationService = service;
        Client = worker.Services.GetRequiredService<DurableTaskClient>();
    }

    /// <summary>Schedules, queries, raises events to and waits for orchestrations.</summary>
    public DurableTaskClient Client { get; }

    /// <summary>The worker host's services (what activities are built from).</summary>
    public IServiceProvider Services => _worker.Services;

    /// <summary>The sidecar's gRPC address ("http://127.0.0.1:{port}"); other processes may connect to it.</summary>
    public string Address { get; }

    public AzureStorageOrchestrationService OrchestrationService { get; }

    /// <param name="tasks">Registers orchestrators and activities, e.g. <c>tasks => tasks.AddRmtPipeline()</c>.</param>
    /// <param name="services">Registers what the activities need (IArtifactStore, IJobQueue, IStageEventStream).</param>
    public static async Task<AzuriteDurableBackend> StartAsync(
        AzuriteDurableBackendOptions options,
        Action<DurableTaskRegistry> tasks,
        Action<IServiceCollection>? services = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var logs = loggerFactory ?? NullLoggerFactory.Instance;
        var service = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            TaskHubName = options.TaskHubName,
            StorageAccountClientProvider = new StorageAccountClientProvider(options.StorageConnectionString),
            PartitionCount = options.PartitionCount,
            MaxQueuePollingInterval = options.MaxQueuePollingInterval,
            ControlQueueVisibilityTimeout = options.ControlQueueVisibilityTimeout,
            WorkItemQueueVisibilityTimeout = options.WorkItemQueueVisibilityTimeout,
            LoggerFactory = logs,
            CustomMessageTypeBinder = new ProtobufMapTypeBinder(),
        });
        await service.CreateIfNotExistsAsync();

        var sidecar = new HostBuilder()
            .ConfigureLogging(l => l.Services.AddSingleton(logs))
            .ConfigureWebHost(web => web
                .UseKestrel(k => k.Listen(IPAddress.Loopback, options.Port, listen => listen.Protocols = HttpProtocols.Http2))
                .ConfigureServices(s =>
                {
                    s.AddGrpc();
                    s.AddSingleton<IOrchestrationService>(new SidecarHistoryAdapter(service));
                    s.AddSingleton<IOrchestrationServiceClient>(service);
                    s.AddSingleton<TaskHubGrpcServer>();
                })
                .Configure(app =>
                {
                    app.UseRouting();
                    app.UseEndpoints(endpoints => endpoints.MapGrpcService<TaskHubGrpcServer>());
                }))
            .Build();
        await sidecar.StartAsync(ct);
        var address = sidecar.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()
            .Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);

        var channel = GrpcChannel.ForAddress(address);
        var worker = new HostBuilder()
            .ConfigureLogging(l => l.Services.AddSingleton(logs))
            .ConfigureServices(s =>
            {
                services?.Invoke(s);
                s.AddDurableTaskWorker(b =>
                {
                    b.UseGrpc(channel);
                    b.AddTasks(tasks);
                });
                s.AddDurableTaskClient(b =>
                {
                    b.UseGrpc(channel);
                    b.RegisterDirectly();
                });
            })
            .Build();
        try
        {
            await worker.StartAsync(ct);
        }
        catch
        {
            await sidecar.StopAsync(CancellationToken.None);
            sidecar.Dispose();
            channel.Dispose();
            throw;
        }
        return new AzuriteDurableBackend(sidecar, worker, channel, address, service);
    }

    /// <summary>Stops the backend first, while the worker still answers, so in-flight work items finish
    /// and the partition leases are released (a host started next takes over at once); then the worker
    /// and the sidecar. Running orchestrations stay in storage and continue when a backend on the same
    /// task hub starts again.</summary>
    public async ValueTask DisposeAsync()
    {
        await OrchestrationService.StopAsync(isForced: false);
        await _worker.StopAsync(CancellationToken.None);
        _worker.Dispose();
        await _channel.ShutdownAsync();
        _channel.Dispose();
        await _sidecar.StopAsync(CancellationToken.None);
        _sidecar.Dispose();
    }
}

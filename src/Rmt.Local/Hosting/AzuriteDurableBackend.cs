using DurableTask.AzureStorage;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Rmt.Local.Hosting;

/// <summary>The local durable backend with its worker and client in one object: a
/// <see cref="DurableSidecar"/> (DurableTask.AzureStorage on Azurite behind the gRPC sidecar) plus a
/// Microsoft.DurableTask worker (running the registered orchestrators and activities) and a client,
/// both connected with UseGrpc. A host that has its own DI (the local host) uses <see cref="DurableSidecar"/>
/// and registers the worker and client there instead.
/// <code>
/// await using var backend = await AzuriteDurableBackend.StartAsync(
///     azurite.ConnectionString, new DurableSidecarOptions(), tasks => tasks.AddRmtPipeline(),
///     services => services.AddSingleton&lt;IArtifactStore&gt;(cloud.Artifacts) /* and IJobQueue, IStageEventStream */);
/// var handlers = new PipelineHandlers(backend.Client);
/// </code></summary>
public sealed class AzuriteDurableBackend : IAsyncDisposable
{
    private readonly DurableSidecar _sidecar;
    private readonly IHost _worker;

    private AzuriteDurableBackend(DurableSidecar sidecar, IHost worker)
    {
        _sidecar = sidecar;
        _worker = worker;
        Client = worker.Services.GetRequiredService<DurableTaskClient>();
    }

    /// <summary>Schedules, queries, raises events to and waits for orchestrations.</summary>
    public DurableTaskClient Client { get; }

    /// <summary>The worker host's services (what activities are built from).</summary>
    public IServiceProvider Services => _worker.Services;

    /// <summary>The sidecar's gRPC address ("http://127.0.0.1:{port}"); other processes may connect to it.</summary>
    public string Address => _sidecar.Address;

    public AzureStorageOrchestrationService OrchestrationService => _sidecar.OrchestrationService;

    /// <param name="storageConnectionString">Azurite (or any storage account reachable by connection string).</param>
    /// <param name="tasks">Registers orchestrators and activities, e.g. <c>tasks => tasks.AddRmtPipeline()</c>.</param>
    /// <param name="services">Registers what the activities need (IArtifactStore, IJobQueue, IStageEventStream).</param>
    public static async Task<AzuriteDurableBackend> StartAsync(
        string storageConnectionString,
        DurableSidecarOptions options,
        Action<DurableTaskRegistry> tasks,
        Action<IServiceCollection>? services = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken ct = default)
    {
        var logs = loggerFactory ?? NullLoggerFactory.Instance;
        var sidecar = await DurableSidecar.StartAsync(storageConnectionString, options, logs, ct);
        var worker = new HostBuilder()
            .ConfigureLogging(l => l.Services.AddSingleton(logs))
            .ConfigureServices(s =>
            {
                services?.Invoke(s);
                s.AddDurableTaskWorker(b =>
                {
                    b.UseGrpc(sidecar.Channel);
                    b.AddTasks(tasks);
                });
                s.AddDurableTaskClient(b =>
                {
                    b.UseGrpc(sidecar.Channel);
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
            worker.Dispose();
            await sidecar.DisposeAsync();
            throw;
        }
        return new AzuriteDurableBackend(sidecar, worker);
    }

    /// <summary>Stops the storage service first, while the worker still answers, so in-flight work items
    /// finish and the partition leases are released (a backend started next takes over at once); then the
    /// worker and the sidecar. Running orchestrations stay in storage and continue when a backend on the
    /// same task hub starts again.</summary>
    public async ValueTask DisposeAsync()
    {
        await _sidecar.StopOrchestrationServiceAsync();
        await _worker.StopAsync(CancellationToken.None);
        _worker.Dispose();
        await _sidecar.DisposeAsync();
    }
}

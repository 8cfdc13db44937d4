using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Cloud.Azurite;
using Rmt.Contracts;
using Rmt.Local.Api;
using Rmt.Local.Jobs;
using Rmt.Pipeline;
using Rmt.Local.Hosting;
using Rmt.Pipeline.Http;

namespace Rmt.Local;

/// <summary>Everything the pipeline needs, on this machine, in one object:
/// Azurite (with its data in {DataDir}/azurite) -> the durable backend on Azurite -> the pipeline's
/// orchestrations and activities (Rmt.Pipeline, the same classes the Functions app runs) -> the local
/// job runner (the trainer as a child process) -> the HTTP API on 127.0.0.1.
/// Stop it and start it again on the same data folder, and running pipelines go on from their
/// durable state.</summary>
public sealed class LocalHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly DurableSidecar _backend;
    private readonly AzuriteServer? _azurite;
    private ILoggerFactory? _hostLoggers;   // Azurite and the durable backend log through it; lives as long as the host
    private bool _stopped;

    private LocalHost(LocalHostOptions options, WebApplication app, DurableSidecar backend, AzuriteServer? azurite,
        CloudClients cloud, string storageConnectionString, Uri apiBase)
    {
        Options = options;
        _app = app;
        _backend = backend;
        _azurite = azurite;
        Cloud = cloud;
        StorageConnectionString = storageConnectionString;
        ApiBase = apiBase;
    }

    public LocalHostOptions Options { get; }

    /// <summary>http://127.0.0.1:{port}/api</summary>
    public Uri ApiBase { get; }

    public string StorageConnectionString { get; }

    public CloudClients Cloud { get; }

    public DurableTaskClient Client => _app.Services.GetRequiredService<DurableTaskClient>();

    public PipelineHandlers Handlers => _app.Services.GetRequiredService<PipelineHandlers>();

    public LocalJobRunner Runner => _app.Services.GetRequiredService<LocalJobRunner>();

    public ILoggerFactory Loggers => _app.Services.GetRequiredService<ILoggerFactory>();

    /// <summary>The Azurite this host started; null when it uses <see cref="LocalHostOptions.StorageConnectionString"/>.</summary>
    public AzuriteServer? Azurite => _azurite;

    public static async Task<LocalHost> StartAsync(LocalHostOptions options, CancellationToken ct = default)
    {
        options.Validate();
        if (options.RunJobs) options.JobRunner.Validate(); // a missing trainer fails here, not later in the background
        var dataDir = Path.GetFullPath(options.DataDir);
        Directory.CreateDirectory(dataDir);
        var bootLoggers = LoggerFactory.Create(l => LocalTelemetry.AddLogging(l, options.JsonLogs, options.LogLevel));
        var boot = bootLoggers.CreateLogger<LocalHost>();

        AzuriteServer? azurite = null;
        var connectionString = options.StorageConnectionString;
        if (connectionString is null)
        {
            boot.LogInformation("Starting Azurite with its data in {Folder}", Path.Combine(dataDir, "azurite"));
            azurite = await AzuriteServer.StartAsync(
                new AzuritePersistence(Path.Combine(dataDir, "azurite"), options.AzuritePorts?.Blob, options.AzuritePorts?.Queue, options.AzuritePorts?.Table),
                options.RepoRoot, ct: ct);
            connectionString = azurite.ConnectionString;
            boot.LogInformation("Azurite: blob {Blob}, queue {Queue}, table {Table} on 127.0.0.1", azurite.BlobPort, azurite.QueuePort, azurite.TablePort);
        }

        DurableSidecar? backend = null;
        WebApplication? started = null;
        try
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDir });
            LocalTelemetry.AddLogging(builder.Logging, options.JsonLogs, options.LogLevel);
            LocalTelemetry.AddTracing(builder.Services, options.TraceToConsole);
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, options.Port));

            backend = await DurableSidecar.StartAsync(connectionString, options.Durable, bootLoggers, ct);
            boot.LogInformation("Durable backend (DurableTask.AzureStorage on Azurite, task hub {TaskHub}) at {Address}", backend.TaskHub, backend.Address);

            var cloudOptions = CloudOptions.ForConnectionString(connectionString, options.Messaging);
            builder.Services.AddSingleton(sp => CloudClients.Create(cloudOptions, sp.GetRequiredService<ILoggerFactory>(), storagePolicy: options.StoragePolicy));
            builder.Services.AddSingleton(sp => sp.GetRequiredService<CloudClients>().Artifacts);
            builder.Services.AddSingleton(sp => sp.GetRequiredService<CloudClients>().Jobs);
            builder.Services.AddSingleton(sp => sp.GetRequiredService<CloudClients>().Events);
            builder.Services.AddDurableTaskWorker(w =>
            {
                w.AddTasks(r => r.AddRmtPipeline());
                w.UseGrpc(backend.Channel);
            });
            builder.Services.AddDurableTaskClient(c => c.UseGrpc(backend.Channel));
            builder.Services.AddPipelineOpenApi(PipelineApi.Host.Local);
            builder.Services.AddSingleton(sp => new PipelineHandlers(
                sp.GetRequiredService<DurableTaskClient>(), sp.GetRequiredService<ILogger<PipelineHandlers>>(), options.Monitor));

            var runnerOptions = options.JobRunner with
            {
                Environment = new Dictionary<string, string>(options.JobRunner.Environment)
                {
                    [RmtSettings.StorageConnectionString] = connectionString,
                    [RmtSettings.JobQueue] = cloudOptions.JobQueue,
                },
            };
            builder.Services.AddSingleton(sp => new LocalJobRunner(
                sp.GetRequiredService<IJobQueue>(), sp.GetRequiredService<IStageEventStream>(), sp.GetRequiredService<IArtifactStore>(),
                runnerOptions, sp.GetRequiredService<ILogger<LocalJobRunner>>()));
            if (options.RunJobs)
                builder.Services.AddHostedService(sp => sp.GetRequiredService<LocalJobRunner>());
            builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.JobRunner.ShutdownGrace + TimeSpan.FromSeconds(20));

            var app = builder.Build();
            var cloud = app.Services.GetRequiredService<CloudClients>();
            if (cloud.Artifacts is BlobArtifactStore store) await store.EnsureContainersAsync(ct);
            app.MapPipelineApi();
            started = app;
            await app.StartAsync(ct);

            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var apiBase = new Uri(address.TrimEnd('/') + PipelineApi.RoutePrefix);
            boot.LogInformation("HTTP API at {ApiBase}/pipelines", apiBase);
            return new LocalHost(options, app, backend, azurite, cloud, connectionString, apiBase) { _hostLoggers = bootLoggers };
        }
        catch
        {
            if (started is not null)
            {
                // Hosted services that did start (the worker, the job runner) must not outlive a failed start.
                await started.StopAsync(CancellationToken.None);
                await started.DisposeAsync();
            }
            bootLoggers.Dispose();
            if (backend is not null) await backend.DisposeAsync();
            if (azurite is not null) await azurite.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the host is asked to stop (Ctrl+C, SIGTERM).</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    /// <summary>Stops the API, the worker and the job runner (a running job is asked to stop and
    /// saves a checkpoint), then the durable backend and Azurite (which saves its data).</summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _backend.DisposeAsync();
        if (_azurite is not null) await _azurite.DisposeAsync();
        _hostLoggers?.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

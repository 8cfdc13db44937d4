using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Pipeline.Http;

namespace Rmt.Pipeline.Tests.Fakes;

/// <summary>The real orchestrators and activities on the in-process durable host (gRPC sidecar over an
/// in-memory orchestration service), with the real Blob artifact store, Storage-queue job queue and
/// event stream on Azurite, a fake trainer, and the HTTP handlers over the host's client. Intervals
/// are tiny so a whole pipeline takes seconds.</summary>
public sealed class PipelineTestHost : IAsyncDisposable
{
    public static readonly MonitorSettings FastMonitor = new(
        MaxAttempts: 3, PollInterval: TimeSpan.FromMilliseconds(50), StageTimeout: TimeSpan.FromSeconds(1.5), MaxPollsPerGeneration: 4);

    public static readonly MessagingOptions FastMessaging = new() { PollInterval = TimeSpan.FromMilliseconds(20) };

    private static int _hosts;

    private PipelineTestHost(DurableTaskTestHost host, FakeTrainer trainer, BlobArtifactStore store, RecordingJobQueue queue,
        CountingEventStream events, StorageQueueEventStream stream, MonitorSettings monitor)
    {
        Host = host;
        Trainer = trainer;
        Store = store;
        Queue = queue;
        Events = events;
        Stream = stream;
        Handlers = new PipelineHandlers(host.Client, monitor: _ => monitor);
    }

    public DurableTaskTestHost Host { get; }
    public DurableTaskClient Client => Host.Client;
    public FakeTrainer Trainer { get; }
    public BlobArtifactStore Store { get; }
    public RecordingJobQueue Queue { get; }
    public CountingEventStream Events { get; }
    public StorageQueueEventStream Stream { get; }
    public PipelineHandlers Handlers { get; }

    public static async Task<PipelineTestHost> StartAsync(AzuriteFixture azurite, FakeTrainer.Script? script = null, MonitorSettings? monitor = null)
    {
        var store = new BlobArtifactStore(new BlobServiceClient(azurite.ConnectionString));
        var queues = new QueueServiceClient(azurite.ConnectionString);
        var queue = new RecordingJobQueue(new StorageQueueJobQueue(queues, $"jobs-{Interlocked.Increment(ref _hosts)}", FastMessaging));
        var stream = new StorageQueueEventStream(queues, FastMessaging);
        var events = new CountingEventStream(stream);
        var host = await DurableTaskTestHost.StartAsync(
            tasks => tasks.AddRmtPipeline(),
            new DurableTaskTestHostOptions
            {
                Port = FreePort(),
                ConfigureServices = services =>
                {
                    services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
                    services.AddSingleton<IArtifactStore>(store);
                    services.AddSingleton<IJobQueue>(queue);
                    services.AddSingleton<IStageEventStream>(events);
                },
            });
        var trainer = new FakeTrainer(queue, events, store, script);
        return new PipelineTestHost(host, trainer, store, queue, events, stream, monitor ?? FastMonitor);
    }

    public static PipelineRequest Request(string runId, string? baseCheckpoint = null) =>
        new(new PipelineDatasets("datasets/demo/corpus.txt", "datasets/gsm8k/train.jsonl", PostTrainEval: "datasets/gsm8k/test.jsonl"),
            RunId: runId, BaseCheckpoint: baseCheckpoint);

    public async Task<string> SubmitAsync(PipelineRequest request)
    {
        var result = await Handlers.SubmitAsync(request, "http://localhost/api");
        Assert.True(result.StatusCode == 202, $"submit answered {result.StatusCode}: {result.Json}");
        return PipelineApiJson.Deserialize<SubmitAccepted>(result.Json!).Id;
    }

    public async Task<OrchestrationMetadata> WaitAsync(string instanceId, int seconds = 60)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var done = await Client.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, timeout.Token);
        Assert.Empty(Trainer.Errors);
        Assert.Empty(await Stream.PeekPoisonAsync(instanceId));
        return done;
    }

    /// <summary>Polls GET status until <paramref name="until"/> holds.</summary>
    public async Task<PipelineStatusView> WaitForStatusAsync(string runId, Func<PipelineStatusView, bool> until, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var result = await Handlers.GetStatusAsync(runId);
            if (result.StatusCode == 200 && PipelineApiJson.Deserialize<PipelineStatusView>(result.Json!) is var view && until(view))
                return view;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"run {runId} never reached the expected status; last: {result.Json}");
            await Task.Delay(20);
        }
    }

    public IReadOnlyList<StageJob> JobsOf(string stage) => Queue.Sent.Where(j => j.Stage == stage).ToList();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await Trainer.DisposeAsync();
        await Host.DisposeAsync();
    }
}

using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs.Tests;

/// <summary>A fresh job queue, event stream and blob store on the shared Azurite for one test, with
/// helpers to read back what a job published.</summary>
public sealed class JobHarness : IAsyncDisposable
{
    private JobHarness(CloudClients cloud, string workRoot)
    {
        Cloud = cloud;
        WorkRoot = workRoot;
    }

    public CloudClients Cloud { get; }
    public IArtifactStore Store => Cloud.Artifacts;
    public string WorkRoot { get; }
    public RecordingLogger Log { get; } = new();

    /// <param name="storagePolicy">Sees every storage request of the job and the harness (fault injection).</param>
    /// <param name="jobVisibility">How soon a received job message that was not settled comes back (default 30 s).</param>
    public static JobHarness Create(AzuriteFixture azurite, Azure.Core.Pipeline.HttpPipelinePolicy? storagePolicy = null, TimeSpan? jobVisibility = null)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var options = CloudOptions.ForConnectionString(azurite.ConnectionString, new MessagingOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(50),
            JobVisibilityTimeout = jobVisibility ?? TimeSpan.FromSeconds(30),
        }) with { JobQueue = $"jobs-{id}" };
        var workRoot = Path.Combine(Path.GetTempPath(), $"rmt-jobs-tests-{id}");
        return new JobHarness(CloudClients.Create(options, storagePolicy: storagePolicy), workRoot);
    }

    public JobRunner Runner(StageExecutors executors, Action<StageEvent>? onEvent = null, TimeSpan? cancelPoll = null, string host = "test-host",
        TimeSpan? heartbeat = null) =>
        new(Store, Cloud.Events, executors, new JobRunnerOptions
        {
            WorkRoot = WorkRoot,
            ReceiveWait = TimeSpan.FromSeconds(2),
            CancelPollInterval = cancelPoll ?? TimeSpan.FromMilliseconds(200),
            Host = host,
            HeartbeatInterval = heartbeat ?? TimeSpan.FromMinutes(1),
        }, Log) { OnEvent = onEvent };

    /// <summary>Runs <paramref name="job"/> and kills it right after it uploads its step-<paramref name="step"/>
    /// checkpoint (a lost container); returns every event published so far.</summary>
    public async Task<IReadOnlyList<StageEvent>> KillAfterCheckpointAsync(StageJob job, long step)
    {
        using var stop = new JobStopSignal();
        using var kill = new CancellationTokenSource();
        var runner = Runner(TinyJobs.Executors, onEvent: e =>
        {
            if (e.Kind == StageEventKind.CheckpointSaved && e.Checkpoint!.Step == step) kill.Cancel();
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            runner.RunJsonAsync(RmtJson.Serialize(job), $"attempt {job.Attempt}", stop, kill.Token));
        return await DrainAsync(job.RunId);
    }

    /// <summary>Every event of the run published so far, in (stage, attempt, sequence) order.</summary>
    public async Task<IReadOnlyList<StageEvent>> DrainAsync(string runId)
    {
        var all = new List<StageEvent>();
        while (true)
        {
            var batch = await Cloud.Events.DrainAsync(runId, _ => Task.CompletedTask);
            if (batch.Count == 0) break;
            all.AddRange(batch);
        }
        return [.. all.OrderBy(e => e.Stage, StringComparer.Ordinal).ThenBy(e => e.Attempt).ThenBy(e => e.Sequence)];
    }

    public async ValueTask DisposeAsync()
    {
        await Cloud.DisposeAsync();
        if (Directory.Exists(WorkRoot)) Directory.Delete(WorkRoot, recursive: true);
    }
}

using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Local.Hosting;
using Rmt.Pipeline;
using Rmt.Pipeline.Http;
using Rmt.Pipeline.Tests.Fakes;

namespace Rmt.Local.Tests.Hosting;

/// <summary>The pipeline end to end on the local durable backend: DurableTask.AzureStorage on a real
/// Azurite behind the gRPC sidecar, the real cloud adapters, and a fake trainer.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzuriteDurableBackendTests(AzuriteFixture azurite)
{
    private static readonly MonitorSettings Monitor = new(3, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), 5);

    private sealed record Parts(BlobArtifactStore Store, RecordingJobQueue Queue, CountingEventStream Events);

    private Parts NewParts(string queueName)
    {
        var queues = new QueueServiceClient(azurite.ConnectionString);
        return new Parts(
            new BlobArtifactStore(new BlobServiceClient(azurite.ConnectionString)),
            new RecordingJobQueue(new StorageQueueJobQueue(queues, queueName, PipelineTestHost.FastMessaging)),
            new CountingEventStream(new StorageQueueEventStream(queues, PipelineTestHost.FastMessaging)));
    }

    private Task<AzuriteDurableBackend> StartBackendAsync(string taskHub, Parts parts) =>
        AzuriteDurableBackend.StartAsync(
            azurite.ConnectionString,
            new DurableSidecarOptions
            {
                TaskHubName = taskHub,
                // Short, so work that the stopped host held comes back quickly after the restart.
                MaxQueuePollingInterval = TimeSpan.FromMilliseconds(200),
                ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(5),
                WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(5),
            },
            tasks => tasks.AddRmtPipeline(),
            services =>
            {
                services.AddLogging();
                services.AddSingleton<IArtifactStore>(parts.Store);
                services.AddSingleton<IJobQueue>(parts.Queue);
                services.AddSingleton<IStageEventStream>(parts.Events);
            });

    [Fact]
    public async Task A_pipeline_completes_on_the_azure_storage_backend_and_survives_a_backend_restart()
    {
        var parts = NewParts("jobs-backend");
        var midTrainRunning = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        await using var trainer = new FakeTrainer(parts.Queue, parts.Events, parts.Store, async (job, t) =>
        {
            if (job.Stage == PipelineStages.MidTrain)
            {
                await t.PublishAsync(FakeTrainer.Event(job, 1, StageEventKind.Progress) with { Progress = FakeTrainer.Progress(4) });
                midTrainRunning.TrySetResult();
                await release.Task.WaitAsync(t.Stopping);
            }
            await t.CompleteAsync(job);
        });

        var backend = await StartBackendAsync("rmtbackend", parts);
        var runId = "on-azurite";
        var submitted = await new PipelineHandlers(backend.Client, monitor: _ => Monitor)
            .SubmitAsync(PipelineTestHost.Request(runId), "http://localhost/api");
        Assert.Equal(202, submitted.StatusCode);
        await midTrainRunning.Task.WaitAsync(TimeSpan.FromSeconds(60));

        // The host goes down mid-stage; a new one on the same task hub continues from the durable state.
        await backend.DisposeAsync();
        release.SetResult();
        await using var restarted = await StartBackendAsync("rmtbackend", parts);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var done = await restarted.Client.WaitForInstanceCompletionAsync(runId, getInputsAndOutputs: true, timeout.Token);

        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{done.RuntimeStatus}: {done.FailureDetails?.ErrorMessage}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the restarted host took {clock.Elapsed} to finish the run");
        var output = done.ReadOutputAs<PipelineOutput>()!;
        Assert.Equal(5, output.Stages.Count);
        Assert.All(output.Stages, s => Assert.Equal((Outcomes.Completed, 1), (s.Status, s.Attempts)));
        Assert.Single(parts.Queue.Sent, j => j.Stage == PipelineStages.MidTrain);
        Assert.Contains("## Math accuracy", await parts.Store.ReadTextAsync(BlobLayout.RunReport(runId)));
        Assert.Empty(trainer.Errors);
        var status = PipelineApiJson.Deserialize<PipelineStatusView>((await new PipelineHandlers(restarted.Client).GetStatusAsync(runId)).Json!);
        Assert.Equal("completed", status.Status);
        var listed = PipelineApiJson.Deserialize<PipelineList>((await new PipelineHandlers(restarted.Client).ListAsync("completed")).Json!);
        Assert.Equal([runId], listed.Items.Select(i => i.Id)); // stage sub-orchestrations are not listed as pipelines
    }

    [Fact]
    public async Task Cancel_reaches_the_running_stage_through_the_azure_storage_backend()
    {
        var parts = NewParts("jobs-cancel");
        await using var trainer = new FakeTrainer(parts.Queue, parts.Events, parts.Store, async (job, t) =>
        {
            if (job.Stage != PipelineStages.MidTrain)
            {
                await t.CompleteAsync(job);
                return;
            }
            await t.PublishAsync(FakeTrainer.Event(job, 1, StageEventKind.Progress) with { Progress = FakeTrainer.Progress(2) });
            await t.WaitForCancelMarkerAsync(job);
        });
        await using var backend = await StartBackendAsync("rmtcancel", parts);
        var handlers = new PipelineHandlers(backend.Client, monitor: _ => Monitor);
        const string runId = "cancel-on-azurite";

        Assert.Equal(202, (await handlers.SubmitAsync(PipelineTestHost.Request(runId), "http://localhost/api")).StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (PipelineApiJson.Deserialize<PipelineStatusView>((await handlers.GetStatusAsync(runId)).Json!).Progress?.Step != 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "mid-training never reported progress");
            await Task.Delay(100);
        }
        Assert.Equal(202, (await handlers.CancelAsync(runId, "stop")).StatusCode);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var done = await backend.Client.WaitForInstanceCompletionAsync(runId, getInputsAndOutputs: true, timeout.Token);

        Assert.Equal(Outcomes.Cancelled, done.ReadOutputAs<PipelineOutput>()!.Status);
        Assert.True(await parts.Store.ExistsAsync(BlobLayout.CancelMarker(runId)));
        Assert.DoesNotContain(parts.Queue.Sent, j => j.Stage == PipelineStages.PostTrain);
    }

    [Fact]
    public async Task A_sidecar_stopped_while_its_storage_service_is_still_starting_stops_cleanly()
    {
        // The sidecar starts the storage service in the background when its host has started, and stops it
        // from a fire-and-forget callback: a stop that came before the start had finished threw inside
        // DurableTask.AzureStorage (AppLeaseManager.StopAsync) and crashed the whole process.
        for (var i = 0; i < 5; i++)
        {
            var sidecar = await DurableSidecar.StartAsync(azurite.ConnectionString, new DurableSidecarOptions { TaskHubName = $"rmtquick{i}" });
            await sidecar.DisposeAsync();
        }
        var again = await DurableSidecar.StartAsync(azurite.ConnectionString, new DurableSidecarOptions { TaskHubName = "rmtquick0" });
        await again.StopOrchestrationServiceAsync();
        await again.StopOrchestrationServiceAsync(); // a second stop waits for the first
        await again.DisposeAsync();
    }
}

using DurableTask.Core;
using DurableTask.Core.History;
using Microsoft.Extensions.Logging;

namespace Rmt.Local.Hosting;

/// <summary>Puts the gRPC sidecar (Microsoft.DurableTask.InProcessTestHost, made for its in-memory
/// store) in front of DurableTask.AzureStorage, which stores history events by type. The sidecar records
/// a started sub-orchestration as its own subclass of <see cref="SubOrchestrationInstanceCreatedEvent"/>
/// (adding a trace context), which the Azure Storage history table cannot round-trip: the row is written
/// without its EventType, and the parent orchestration can no longer be loaded ("The TableEntity did not
/// contain a 'EventType' property"). This adapter swaps such events for the plain DurableTask.Core event
/// (tags copied into a plain Dictionary) before the backend commits them; only the sidecar's extra trace
/// context is lost (the pipeline carries its trace in its own inputs). Everything else is passed through
/// unchanged. Tags in queue messages (a protobuf MapField, whatever path wrote them) are the
/// <see cref="ProtobufMapTypeBinder"/>'s job.
///
/// It also guards the service's lifetime. The sidecar starts the service in the background and stops it
/// from a fire-and-forget callback, and the host stops it again on dispose; DurableTask.AzureStorage
/// throws a NullReferenceException when stopped before its start has finished (or without one), which in
/// the sidecar's callback crashed the process. Here the service starts at most once, stops at most once,
/// a stop waits for a start in flight, a stop without a start is a no-op, and a start after a stop is
/// refused silently; a failed stop is logged, never thrown into the sidecar's callback.</summary>
internal sealed class SidecarHistoryAdapter(IOrchestrationService inner, ILogger logger) : IOrchestrationService
{
    private readonly Lock _gate = new();
    private Task? _started;
    private Task? _stopped;
    public Task CompleteTaskOrchestrationWorkItemAsync(
        TaskOrchestrationWorkItem workItem, OrchestrationRuntimeState newOrchestrationRuntimeState, IList<TaskMessage> outboundMessages,
        IList<TaskMessage> orchestratorMessages, IList<TaskMessage> timerMessages, TaskMessage continuedAsNewMessage, OrchestrationState orchestrationState)
    {
        Normalize(newOrchestrationRuntimeState);
        return inner.CompleteTaskOrchestrationWorkItemAsync(
            workItem, newOrchestrationRuntimeState, outboundMessages, orchestratorMessages, timerMessages, continuedAsNewMessage, orchestrationState);
    }

    /// <summary>Replaces sidecar subclasses of history events, in both the new and the full events.</summary>
    internal static void Normalize(OrchestrationRuntimeState? state)
    {
        if (state is null) return;
        for (var i = 0; i < state.NewEvents.Count; i++)
        {
            if (state.NewEvents[i] is not SubOrchestrationInstanceCreatedEvent created || created.GetType() == typeof(SubOrchestrationInstanceCreatedEvent))
                continue;
            var plain = new SubOrchestrationInstanceCreatedEvent(created.EventId)
            {
                Name = created.Name,
                Version = created.Version,
                InstanceId = created.InstanceId,
                Input = created.Input,
                ClientSpanId = created.ClientSpanId,
                Tags = created.Tags is null ? null : new Dictionary<string, string>(created.Tags),
                Timestamp = created.Timestamp,
                IsPlayed = created.IsPlayed,
            };
            state.NewEvents[i] = plain;
            for (var j = state.Events.Count - 1; j >= 0; j--)
            {
                if (!ReferenceEquals(state.Events[j], created)) continue;
                state.Events[j] = plain;
                break;
            }
        }
    }

    public Task StartAsync()
    {
        lock (_gate)
        {
            if (_stopped is not null) return Task.CompletedTask;
            return _started ??= inner.StartAsync();
        }
    }

    public Task StopAsync() => StopAsync(isForced: false);

    /// <summary>Stops the service once; every caller gets the same task, which never faults.</summary>
    public Task StopAsync(bool isForced)
    {
        lock (_gate)
        {
            return _stopped ??= StopOnceAsync(_started, isForced);
        }
    }

    private async Task StopOnceAsync(Task? started, bool isForced)
    {
        if (started is null) return; // never started: nothing holds leases or polls queues
        try
        {
            await started;
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "The durable storage service had failed to start; nothing to stop");
            return;
        }
        try
        {
            await inner.StopAsync(isForced);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Stopping the durable storage service failed; its partition leases expire on their own");
        }
    }

    public Task CreateAsync() => inner.CreateAsync();
    public Task CreateAsync(bool recreateInstanceStore) => inner.CreateAsync(recreateInstanceStore);
    public Task CreateIfNotExistsAsync() => inner.CreateIfNotExistsAsync();
    public Task DeleteAsync() => inner.DeleteAsync();
    public Task DeleteAsync(bool deleteInstanceStore) => inner.DeleteAsync(deleteInstanceStore);
    public int TaskOrchestrationDispatcherCount => inner.TaskOrchestrationDispatcherCount;
    public int MaxConcurrentTaskOrchestrationWorkItems => inner.MaxConcurrentTaskOrchestrationWorkItems;
    public BehaviorOnContinueAsNew EventBehaviourForContinueAsNew => inner.EventBehaviourForContinueAsNew;
    public bool IsMaxMessageCountExceeded(int currentMessageCount, OrchestrationRuntimeState runtimeState) =>
        inner.IsMaxMessageCountExceeded(currentMessageCount, runtimeState);
    public int GetDelayInSecondsAfterOnProcessException(Exception exception) => inner.GetDelayInSecondsAfterOnProcessException(exception);
    public int GetDelayInSecondsAfterOnFetchException(Exception exception) => inner.GetDelayInSecondsAfterOnFetchException(exception);
    public Task<TaskOrchestrationWorkItem> LockNextTaskOrchestrationWorkItemAsync(TimeSpan receiveTimeout, CancellationToken cancellationToken) =>
        inner.LockNextTaskOrchestrationWorkItemAsync(receiveTimeout, cancellationToken);
    public Task RenewTaskOrchestrationWorkItemLockAsync(TaskOrchestrationWorkItem workItem) => inner.RenewTaskOrchestrationWorkItemLockAsync(workItem);
    public Task AbandonTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.AbandonTaskOrchestrationWorkItemAsync(workItem);
    public Task ReleaseTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.ReleaseTaskOrchestrationWorkItemAsync(workItem);
    public int TaskActivityDispatcherCount => inner.TaskActivityDispatcherCount;
    public int MaxConcurrentTaskActivityWorkItems => inner.MaxConcurrentTaskActivityWorkItems;
    public Task<TaskActivityWorkItem> LockNextTaskActivityWorkItem(TimeSpan receiveTimeout, CancellationToken cancellationToken) =>
        inner.LockNextTaskActivityWorkItem(receiveTimeout, cancellationToken);
    public Task<TaskActivityWorkItem> RenewTaskActivityWorkItemLockAsync(TaskActivityWorkItem workItem) => inner.RenewTaskActivityWorkItemLockAsync(workItem);
    public Task CompleteTaskActivityWorkItemAsync(TaskActivityWorkItem workItem, TaskMessage responseMessage) =>
        inner.CompleteTaskActivityWorkItemAsync(workItem, responseMessage);
    public Task AbandonTaskActivityWorkItemAsync(TaskActivityWorkItem workItem) => inner.AbandonTaskActivityWorkItemAsync(workItem);
}

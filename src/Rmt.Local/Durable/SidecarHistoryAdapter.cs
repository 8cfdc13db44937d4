using DurableTask.Core;
using DurableTask.Core.History;

namespace Rmt.Local.Durable;

/// <summary>Lets the in-process gRPC sidecar (Microsoft.DurableTask.InProcessTestHost, made for its
/// in-memory store) write sub-orchestrations into DurableTask.AzureStorage, which stores what it is
/// given by type:
/// <list type="bullet">
/// <item>The sidecar records a started sub-orchestration as its own subclass of
/// SubOrchestrationInstanceCreatedEvent (adding a trace context). The storage backend's table
/// converter does not know that type and writes a history row without any of its fields, which
/// breaks every later replay ("The TableEntity did not contain a 'EventType' property"). It is
/// written as the plain DurableTask.Core event instead; only the sidecar's extra trace context is
/// lost (the pipeline carries its trace in its own inputs).</item>
/// <item>The sidecar passes tags as protobuf MapField; queue messages are serialized with their type
/// name, which the backend cannot load back. Tags are copied into a Dictionary.</item>
/// </list>
/// Everything else is passed through unchanged.</summary>
public sealed class SidecarHistoryAdapter(IOrchestrationService inner) : IOrchestrationService
{
    public Task CompleteTaskOrchestrationWorkItemAsync(
        TaskOrchestrationWorkItem workItem, OrchestrationRuntimeState newOrchestrationRuntimeState, IList<TaskMessage> outboundMessages,
        IList<TaskMessage> orchestratorMessages, IList<TaskMessage> timerMessages, TaskMessage continuedAsNewMessage, OrchestrationState orchestrationState)
    {
        Normalize(newOrchestrationRuntimeState);
        foreach (var message in orchestratorMessages ?? []) NormalizeTags(message.Event);
        foreach (var message in outboundMessages ?? []) NormalizeTags(message.Event);
        if (continuedAsNewMessage is not null) NormalizeTags(continuedAsNewMessage.Event);
        return inner.CompleteTaskOrchestrationWorkItemAsync(
            workItem, newOrchestrationRuntimeState, outboundMessages, orchestratorMessages, timerMessages, continuedAsNewMessage, orchestrationState);
    }

    /// <summary>Replaces sidecar subclasses of history events, in both the full and the new events.</summary>
    internal static void Normalize(OrchestrationRuntimeState? state)
    {
        if (state is null) return;
        for (var i = 0; i < state.NewEvents.Count; i++)
        {
            var original = state.NewEvents[i];
            var plain = Plain(original);
            if (ReferenceEquals(plain, original)) continue;
            state.NewEvents[i] = plain;
            for (var j = state.Events.Count - 1; j >= 0; j--)
            {
                if (!ReferenceEquals(state.Events[j], original)) continue;
                state.Events[j] = plain;
                break;
            }
        }
    }

    internal static HistoryEvent Plain(HistoryEvent e)
    {
        NormalizeTags(e);
        if (e is not SubOrchestrationInstanceCreatedEvent created || e.GetType() == typeof(SubOrchestrationInstanceCreatedEvent))
            return e;
        return new SubOrchestrationInstanceCreatedEvent(e.EventId)
        {
            Name = created.Name,
            Version = created.Version,
            InstanceId = created.InstanceId,
            Input = created.Input,
            ClientSpanId = created.ClientSpanId,
            Tags = Copy(created.Tags),
            Timestamp = created.Timestamp,
            IsPlayed = created.IsPlayed,
        };
    }

    private static void NormalizeTags(HistoryEvent? e)
    {
        switch (e)
        {
            case ExecutionStartedEvent started: started.Tags = Copy(started.Tags); break;
            case TaskScheduledEvent scheduled: scheduled.Tags = Copy(scheduled.Tags); break;
            case SubOrchestrationInstanceCreatedEvent created: created.Tags = Copy(created.Tags); break;
        }
    }

    private static IDictionary<string, string>? Copy(IDictionary<string, string>? tags) =>
        tags is null or Dictionary<string, string> ? tags : new Dictionary<string, string>(tags);

    // Everything below passes through.
    public int TaskOrchestrationDispatcherCount => inner.TaskOrchestrationDispatcherCount;
    public int MaxConcurrentTaskOrchestrationWorkItems => inner.MaxConcurrentTaskOrchestrationWorkItems;
    public BehaviorOnContinueAsNew EventBehaviourForContinueAsNew => inner.EventBehaviourForContinueAsNew;
    public int TaskActivityDispatcherCount => inner.TaskActivityDispatcherCount;
    public int MaxConcurrentTaskActivityWorkItems => inner.MaxConcurrentTaskActivityWorkItems;
    public Task StartAsync() => inner.StartAsync();
    public Task StopAsync() => inner.StopAsync();
    public Task StopAsync(bool isForced) => inner.StopAsync(isForced);
    public Task CreateAsync() => inner.CreateAsync();
    public Task CreateAsync(bool recreateInstanceStore) => inner.CreateAsync(recreateInstanceStore);
    public Task CreateIfNotExistsAsync() => inner.CreateIfNotExistsAsync();
    public Task DeleteAsync() => inner.DeleteAsync();
    public Task DeleteAsync(bool deleteInstanceStore) => inner.DeleteAsync(deleteInstanceStore);
    public bool IsMaxMessageCountExceeded(int currentMessageCount, OrchestrationRuntimeState runtimeState) => inner.IsMaxMessageCountExceeded(currentMessageCount, runtimeState);
    public int GetDelayInSecondsAfterOnProcessException(Exception exception) => inner.GetDelayInSecondsAfterOnProcessException(exception);
    public int GetDelayInSecondsAfterOnFetchException(Exception exception) => inner.GetDelayInSecondsAfterOnFetchException(exception);
    public Task<TaskOrchestrationWorkItem> LockNextTaskOrchestrationWorkItemAsync(TimeSpan receiveTimeout, CancellationToken cancellationToken) => inner.LockNextTaskOrchestrationWorkItemAsync(receiveTimeout, cancellationToken);
    public Task RenewTaskOrchestrationWorkItemLockAsync(TaskOrchestrationWorkItem workItem) => inner.RenewTaskOrchestrationWorkItemLockAsync(workItem);
    public Task AbandonTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.AbandonTaskOrchestrationWorkItemAsync(workItem);
    public Task ReleaseTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.ReleaseTaskOrchestrationWorkItemAsync(workItem);
    public Task<TaskActivityWorkItem> LockNextTaskActivityWorkItem(TimeSpan receiveTimeout, CancellationToken cancellationToken) => inner.LockNextTaskActivityWorkItem(receiveTimeout, cancellationToken);
    public Task<TaskActivityWorkItem> RenewTaskActivityWorkItemLockAsync(TaskActivityWorkItem workItem) => inner.RenewTaskActivityWorkItemLockAsync(workItem);
    public Task CompleteTaskActivityWorkItemAsync(TaskActivityWorkItem workItem, TaskMessage responseMessage) => inner.CompleteTaskActivityWorkItemAsync(workItem, responseMessage);
    public Task AbandonTaskActivityWorkItemAsync(TaskActivityWorkItem workItem) => inner.AbandonTaskActivityWorkItemAsync(workItem);
}

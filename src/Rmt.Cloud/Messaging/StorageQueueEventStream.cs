using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>
/// Stage events on Azure Storage Queues (Azurite locally): one queue per run, named by
/// <see cref="StorageQueueNames.ForRun"/> ("rmt-events-{runId}"). A drain receives up to
/// <c>maxEvents</c> messages (hidden for <see cref="MessagingOptions.EventVisibilityTimeout"/>),
/// moves malformed ones, events of another run, and messages dequeued more than
/// <see cref="MessagingOptions.MaxDeliveryCount"/> times to "{queue}-poison" with the reason,
/// orders the rest by (stage, attempt, sequence), drops duplicates by
/// <see cref="StageEvent.MessageId"/>, hands them to <c>persist</c>, and deletes the messages
/// (duplicates included) only after it returned. If persist throws, nothing is deleted and the
/// messages come back after the visibility timeout.
/// </summary>
public sealed class StorageQueueEventStream : IStageEventStream
{
    private const int MaxBatch = 32; // the Storage Queue limit per receive

    private readonly StorageQueue _queues;
    private readonly MessagingOptions _options;
    private readonly ILogger _logger;

    public StorageQueueEventStream(QueueServiceClient service, MessagingOptions? options = null, ILogger<StorageQueueEventStream>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        _options = options ?? new MessagingOptions();
        _options.Validate();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _queues = new StorageQueue(service, _logger);
    }

    /// <summary>The run's event queue.</summary>
    public string QueueNameOf(string runId) => StorageQueueNames.ForRun(_options.EventQueuePrefix, runId);

    public async Task PublishAsync(StageEvent stageEvent, CancellationToken ct = default)
    {
        stageEvent.Validate();
        var queue = await _queues.EnsureAsync(QueueNameOf(stageEvent.RunId), ct);
        await StorageQueue.SendAsync(queue, RmtJson.Serialize(stageEvent), $"stage event {stageEvent.MessageId}", ct);
    }

    public async Task<IReadOnlyList<StageEvent>> DrainAsync(
        string runId, Func<IReadOnlyList<StageEvent>, Task> persist, int maxEvents = 256, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(persist);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        ArgumentException.ThrowIfNullOrEmpty(runId);
        var queue = await _queues.EnsureAsync(QueueNameOf(runId), ct);

        var taken = new List<(QueueMessage Message, StageEvent Event)>();
        var seen = 0;
        while (seen < maxEvents)
        {
            var batch = (await queue.ReceiveMessagesAsync(Math.Min(MaxBatch, maxEvents - seen), _options.EventVisibilityTimeout, ct)).Value;
            if (batch.Length == 0) break;
            seen += batch.Length;
            foreach (var message in batch)
            {
                var (stageEvent, error) = Parse(message, runId, queue.Name);
                if (error is not null) await _queues.MoveToPoisonAsync(queue, message, error, ct);
                else taken.Add((message, stageEvent!));
            }
        }

        var events = StageEventOrder.Ordered(taken.Select(t => t.Event));
        if (events.Count > 0) await persist(events);
        foreach (var (message, _) in taken)
            await _queues.DeleteAsync(queue, message, ct);
        if (taken.Count > events.Count)
            _logger.LogInformation("Drained run {RunId}: {Events} events, {Duplicates} duplicates removed", runId, events.Count, taken.Count - events.Count);
        return events;
    }

    /// <summary>Up to 32 messages waiting in the run's "-poison" queue (peeked, not removed).</summary>
    public Task<IReadOnlyList<PoisonMessage>> PeekPoisonAsync(string runId, CancellationToken ct = default) => _queues.PeekPoisonAsync(QueueNameOf(runId), ct);

    private (StageEvent? Event, string? Error) Parse(QueueMessage message, string runId, string queueName)
    {
        if (message.DequeueCount > _options.MaxDeliveryCount)
            return (null, $"dequeued {message.DequeueCount} times, more than messaging.maxDeliveryCount={_options.MaxDeliveryCount}; persisting it keeps failing");
        try
        {
            var stageEvent = RmtJson.ParseEvent(message.Body.ToString(), $"stage event message {message.MessageId} on queue {queueName}");
            return stageEvent.RunId == runId
                ? (stageEvent, null)
                : (null, $"stage event {stageEvent.MessageId} belongs to run '{stageEvent.RunId}', not to run '{runId}' whose queue it is on");
        }
        catch (ContractException e)
        {
            return (null, e.Message);
        }
    }
}

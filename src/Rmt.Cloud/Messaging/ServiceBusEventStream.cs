using Azure.Messaging.ServiceBus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>
/// Stage events on an Azure Service Bus topic with a session-enabled subscription: every event has
/// SessionId = runId and MessageId = <see cref="StageEvent.MessageId"/> (run/stage/attempt/sequence,
/// for duplicate detection). A drain accepts the run's session (one drainer per run at a time; if
/// another holds it, the drain returns nothing and logs), receives up to <c>maxEvents</c>,
/// dead-letters malformed messages with the parser's error, orders the rest by (stage, attempt,
/// sequence) without duplicates, hands them to <c>persist</c> and completes them only after it
/// returned (on failure they are abandoned, so they come back). No broker runs in the tests.
/// </summary>
public sealed class ServiceBusEventStream : IStageEventStream, IAsyncDisposable
{
    private readonly ServiceBusClient _client;
    private readonly ServiceBusSender _sender;
    private readonly MessagingOptions _options;
    private readonly ILogger _logger;

    public ServiceBusEventStream(
        ServiceBusClient client, string topicName = RmtSettings.DefaultEventTopic,
        string subscriptionName = RmtSettings.DefaultEventSubscription,
        MessagingOptions? options = null, ILogger<ServiceBusEventStream>? logger = null)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        ArgumentException.ThrowIfNullOrEmpty(topicName);
        ArgumentException.ThrowIfNullOrEmpty(subscriptionName);
        _options = options ?? new MessagingOptions();
        _options.Validate();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _sender = client.CreateSender(topicName);
        TopicName = topicName;
        SubscriptionName = subscriptionName;
    }

    public string TopicName { get; }
    public string SubscriptionName { get; }

    public Task PublishAsync(StageEvent stageEvent, CancellationToken ct = default) =>
        _sender.SendMessageAsync(ServiceBusMapping.ToMessage(stageEvent), ct);

    public async Task<IReadOnlyList<StageEvent>> DrainAsync(
        string runId, Func<IReadOnlyList<StageEvent>, Task> persist, int maxEvents = 256, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(persist);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        ArgumentException.ThrowIfNullOrEmpty(runId);

        ServiceBusSessionReceiver session;
        try
        {
            session = await _client.AcceptSessionAsync(TopicName, SubscriptionName, runId,
                new ServiceBusSessionReceiverOptions { ReceiveMode = ServiceBusReceiveMode.PeekLock }, ct);
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.SessionCannotBeLocked)
        {
            _logger.LogInformation("Session of run {RunId} on {Topic}/{Subscription} is held by another drainer; nothing drained", runId, TopicName, SubscriptionName);
            return [];
        }

        await using (session)
        {
            var taken = new List<(ServiceBusReceivedMessage Message, StageEvent Event)>();
            var wait = _options.DrainWait;
            while (taken.Count < maxEvents)
            {
                var batch = await session.ReceiveMessagesAsync(maxEvents - taken.Count, wait, ct);
                if (batch.Count == 0) break;
                wait = TimeSpan.FromMilliseconds(200); // the session's backlog arrives fast once it flows
                foreach (var message in batch)
                {
                    var received = ServiceBusMapping.ToReceivedEvent(message);
                    var error = received.Error
                                ?? (message.DeliveryCount > _options.MaxDeliveryCount
                                    ? $"delivered {message.DeliveryCount} times, more than messaging.maxDeliveryCount={_options.MaxDeliveryCount}; persisting it keeps failing"
                                    : null);
                    if (error is not null)
                    {
                        _logger.LogWarning("Dead-lettering event message {MessageId} of run {RunId}: {Reason}", message.MessageId, runId, error);
                        await session.DeadLetterMessageAsync(message, ServiceBusDeadLetter.Reason(error), ServiceBusDeadLetter.Description(error), ct);
                    }
                    else
                    {
                        taken.Add((message, received.Event!));
                    }
                }
            }

            var events = StageEventOrder.Ordered(taken.Select(t => t.Event));
            try
            {
                if (events.Count > 0) await persist(events);
            }
            catch
            {
                foreach (var (message, _) in taken)
                    await session.AbandonMessageAsync(message, cancellationToken: CancellationToken.None);
                throw;
            }
            foreach (var (message, _) in taken)
                await session.CompleteMessageAsync(message, ct);
            return events;
        }
    }

    public async ValueTask DisposeAsync() => await _sender.DisposeAsync();
}

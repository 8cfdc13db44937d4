using System.Diagnostics;
using Azure.Messaging.ServiceBus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>
/// The job queue on an Azure Service Bus queue (Azure; KEDA starts the GPU job from it). Messages
/// carry MessageId = <see cref="StageJob.MessageId"/> (run/stage/attempt), so a queue with duplicate
/// detection drops a resent attempt. Receiving is peek-lock; the job settles early with
/// <see cref="CompleteAsync"/> once its claim is in Blob (locks last at most 5 minutes, training
/// lasts hours). A message delivered more than <see cref="MessagingOptions.MaxDeliveryCount"/>
/// times is dead-lettered with the reason before it is returned; unparseable bodies are returned
/// with <c>Job = null</c> and the error, for the caller to dead-letter. Mapping:
/// <see cref="ServiceBusMapping"/>. No broker runs in the tests (see README).
/// </summary>
public sealed class ServiceBusJobQueue : IJobQueue, IAsyncDisposable
{
    private readonly ServiceBusSender _sender;
    private readonly ServiceBusReceiver _receiver;
    private readonly MessagingOptions _options;
    private readonly ILogger _logger;

    public ServiceBusJobQueue(
        ServiceBusClient client, string queueName = RmtSettings.DefaultJobQueue,
        MessagingOptions? options = null, ILogger<ServiceBusJobQueue>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(queueName);
        _options = options ?? new MessagingOptions();
        _options.Validate();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _sender = client.CreateSender(queueName);
        _receiver = client.CreateReceiver(queueName, new ServiceBusReceiverOptions { ReceiveMode = ServiceBusReceiveMode.PeekLock });
        QueueName = queueName;
    }

    public string QueueName { get; }

    public Task SendAsync(StageJob job, CancellationToken ct = default) =>
        _sender.SendMessageAsync(ServiceBusMapping.ToMessage(job), ct);

    public async Task<ReceivedJob?> ReceiveAsync(TimeSpan wait, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var left = wait - clock.Elapsed;
            if (left <= TimeSpan.Zero) left = TimeSpan.FromMilliseconds(1);
            var message = await _receiver.ReceiveMessageAsync(left, ct);
            if (message is null) return null;
            if (message.DeliveryCount > _options.MaxDeliveryCount)
            {
                var reason = $"delivered {message.DeliveryCount} times, more than messaging.maxDeliveryCount={_options.MaxDeliveryCount}";
                await DeadLetterAsync(message, reason, ct);
                if (clock.Elapsed >= wait) return null;
                continue;
            }
            return ServiceBusMapping.ToReceivedJob(message);
        }
    }

    public Task CompleteAsync(ReceivedJob job, CancellationToken ct = default) =>
        _receiver.CompleteMessageAsync(HandleOf(job), ct);

    public Task DeadLetterAsync(ReceivedJob job, string reason, CancellationToken ct = default) =>
        DeadLetterAsync(HandleOf(job), reason, ct);

    private async Task DeadLetterAsync(ServiceBusReceivedMessage message, string reason, CancellationToken ct)
    {
        _logger.LogWarning("Dead-lettering job message {MessageId} of queue {Queue}: {Reason}", message.MessageId, QueueName, reason);
        await _receiver.DeadLetterMessageAsync(message, ServiceBusDeadLetter.Reason(reason), ServiceBusDeadLetter.Description(reason), ct);
    }

    private ServiceBusReceivedMessage HandleOf(ReceivedJob job) =>
        job.Handle as ServiceBusReceivedMessage
        ?? throw new ArgumentException($"job message {job.MessageId} was not received from Service Bus queue {QueueName}; settle it on the queue that delivered it", nameof(job));

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _sender.DisposeAsync();
    }
}

/// <summary>Service Bus keeps a short dead-letter reason and a longer description; ours is one text.</summary>
internal static class ServiceBusDeadLetter
{
    private const int MaxReason = 256;
    private const int MaxDescription = 4096;

    public static string Reason(string reason)
    {
        var firstLine = reason.Split('\n', 2)[0];
        return firstLine.Length <= MaxReason ? firstLine : firstLine[..(MaxReason - 3)] + "...";
    }

    public static string Description(string reason) => reason.Length <= MaxDescription ? reason : reason[..(MaxDescription - 3)] + "...";
}

using System.Diagnostics;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>
/// The job queue on Azure Storage Queues (Azurite locally). The body is the job's JSON. Storage
/// Queues have no long polling, so <see cref="ReceiveAsync"/> polls every
/// <see cref="MessagingOptions.PollInterval"/> until its wait ends. A message dequeued more than
/// <see cref="MessagingOptions.MaxDeliveryCount"/> times is moved to "{queue}-poison" (with the
/// reason, see <see cref="PoisonMessage"/>) instead of being returned. A body that does not parse
/// is returned with <c>Job = null</c> and the parser's error, for the caller to dead-letter.
/// </summary>
public sealed class StorageQueueJobQueue : IJobQueue
{
    private readonly StorageQueue _queues;
    private readonly MessagingOptions _options;

    public StorageQueueJobQueue(
        QueueServiceClient service, string queueName = RmtSettings.DefaultJobQueue,
        MessagingOptions? options = null, ILogger<StorageQueueJobQueue>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        StorageQueueNames.Validate(queueName, RmtSettings.JobQueue);
        _options = options ?? new MessagingOptions();
        _options.Validate();
        _queues = new StorageQueue(service, logger ?? (ILogger)NullLogger.Instance);
        QueueName = queueName;
    }

    public string QueueName { get; }

    public string PoisonQueueName => StorageQueueNames.Poison(QueueName);

    /// <summary>Creates the queue if it does not exist (every operation does this on first use;
    /// hosts may call it at start to fail early).</summary>
    public Task EnsureCreatedAsync(CancellationToken ct = default) => _queues.EnsureAsync(QueueName, ct);

    public async Task SendAsync(StageJob job, CancellationToken ct = default)
    {
        job.Validate();
        var queue = await _queues.EnsureAsync(QueueName, ct);
        await StorageQueue.SendAsync(queue, RmtJson.Serialize(job), $"stage job {job.MessageId}", ct);
    }

    public async Task<ReceivedJob?> ReceiveAsync(TimeSpan wait, CancellationToken ct = default)
    {
        var queue = await _queues.EnsureAsync(QueueName, ct);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            QueueMessage? message = (await queue.ReceiveMessageAsync(_options.JobVisibilityTimeout, ct)).Value;
            if (message is not null)
            {
                if (message.DequeueCount > _options.MaxDeliveryCount)
                {
                    await _queues.MoveToPoisonAsync(queue, message, TooOften(message.DequeueCount), ct);
                    continue;
                }
                return ToReceivedJob(message, QueueName);
            }
            var left = wait - clock.Elapsed;
            if (left <= TimeSpan.Zero) return null;
            await Task.Delay(left < _options.PollInterval ? left : _options.PollInterval, ct);
        }
    }

    public async Task CompleteAsync(ReceivedJob job, CancellationToken ct = default) =>
        await _queues.DeleteAsync(_queues.Get(QueueName), HandleOf(job), ct);

    public async Task DeadLetterAsync(ReceivedJob job, string reason, CancellationToken ct = default) =>
        await _queues.MoveToPoisonAsync(_queues.Get(QueueName), HandleOf(job), reason, ct);

    /// <summary>Up to 32 messages waiting in "{queue}-poison" (peeked, not removed).</summary>
    public Task<IReadOnlyList<PoisonMessage>> PeekPoisonAsync(CancellationToken ct = default) => _queues.PeekPoisonAsync(QueueName, ct);

    internal string TooOften(long dequeueCount) =>
        $"dequeued {dequeueCount} times, more than messaging.maxDeliveryCount={_options.MaxDeliveryCount}; its receivers keep failing before they settle it";

    private static ReceivedJob ToReceivedJob(QueueMessage message, string queueName)
    {
        var body = message.Body.ToString();
        try
        {
            var job = RmtJson.ParseJob(body, $"stage job message {message.MessageId} on queue {queueName}");
            return new ReceivedJob(job, null, body, message.MessageId, message.DequeueCount, message);
        }
        catch (ContractException e)
        {
            return new ReceivedJob(null, e.Message, body, message.MessageId, message.DequeueCount, message);
        }
    }

    private QueueMessage HandleOf(ReceivedJob job) =>
        job.Handle as QueueMessage
        ?? throw new ArgumentException($"job message {job.MessageId} was not received from storage queue {QueueName}; settle it on the queue that delivered it", nameof(job));
}

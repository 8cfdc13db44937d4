using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;

namespace Rmt.Cloud;

/// <summary>What the Storage Queue job queue and event stream share: creating queues once, and
/// moving a message to its "-poison" twin (send first, then delete, so nothing is lost).</summary>
internal sealed class StorageQueue(QueueServiceClient service, ILogger logger)
{
    /// <summary>Storage queue messages never expire on their own (-1 s = infinite time to live).</summary>
    public static readonly TimeSpan NeverExpire = TimeSpan.FromSeconds(-1);

    private readonly ConcurrentDictionary<string, bool> _created = new(StringComparer.Ordinal);

    /// <summary>The Storage Queue limit on a message (64 KiB); our records are far smaller.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    public QueueClient Get(string name) => service.GetQueueClient(name);

    /// <summary>Sends a body that never expires, refusing one over the size limit with a clear error.</summary>
    public static async Task SendAsync(QueueClient queue, string body, string what, CancellationToken ct)
    {
        var bytes = System.Text.Encoding.UTF8.GetByteCount(body);
        if (bytes > MaxMessageBytes)
            throw new ArgumentException(
                $"{what} is {bytes} bytes, over the {MaxMessageBytes}-byte storage queue message limit; put large content in Blob and send its path", nameof(body));
        await queue.SendMessageAsync(body, visibilityTimeout: null, timeToLive: NeverExpire, ct);
    }

    public async Task<QueueClient> EnsureAsync(string name, CancellationToken ct)
    {
        var queue = service.GetQueueClient(name);
        if (_created.ContainsKey(name)) return queue;
        try
        {
            await queue.CreateIfNotExistsAsync(cancellationToken: ct);
        }
        catch (RequestFailedException e)
        {
            throw new InvalidOperationException(
                $"could not create storage queue {queue.Uri} ({e.Status} {e.ErrorCode}); check the queue endpoint and the identity's 'Storage Queue Data Contributor' role", e);
        }
        _created.TryAdd(name, true);
        return queue;
    }

    public async Task MoveToPoisonAsync(QueueClient source, QueueMessage message, string reason, CancellationToken ct)
    {
        var poison = await EnsureAsync(StorageQueueNames.Poison(source.Name), ct);
        var envelope = new PoisonMessage(source.Name, message.MessageId, message.DequeueCount, reason, DateTimeOffset.UtcNow, message.Body.ToString());
        await poison.SendMessageAsync(envelope.ToJson(), visibilityTimeout: null, timeToLive: NeverExpire, ct); // may exceed 64 KiB only if the original did
        logger.LogWarning("Moved message {MessageId} of queue {Queue} to {Poison}: {Reason}", message.MessageId, source.Name, poison.Name, reason);
        await DeleteAsync(source, message, ct);
    }

    /// <summary>Deletes a received message. When its visibility ran out and another receiver took it,
    /// the pop receipt no longer matches: that receiver owns it now, and this is logged.</summary>
    public async Task<bool> DeleteAsync(QueueClient queue, QueueMessage message, CancellationToken ct)
    {
        try
        {
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, ct);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            logger.LogWarning("Message {MessageId} of queue {Queue} could not be deleted ({Code}): its visibility timeout ran out and it may be delivered again",
                message.MessageId, queue.Name, e.ErrorCode);
            return false;
        }
    }

    /// <summary>Up to 32 messages of "{queue}-poison", left in place.</summary>
    public async Task<IReadOnlyList<PoisonMessage>> PeekPoisonAsync(string queueName, CancellationToken ct)
    {
        var poison = Get(StorageQueueNames.Poison(queueName));
        try
        {
            var peeked = await poison.PeekMessagesAsync(maxMessages: 32, ct);
            return [.. peeked.Value.Select(m => PoisonMessage.Parse(m.Body.ToString()))];
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return [];
        }
    }
}

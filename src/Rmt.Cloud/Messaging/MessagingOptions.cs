using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>How the job queue and the stage-event stream behave, on Storage Queues and Service Bus
/// alike. Defaults suit Azure; tests shorten the timeouts.</summary>
public sealed record MessagingOptions
{
    /// <summary>A message delivered more often than this moves to dead-letter / "{queue}-poison".
    /// (Service Bus also enforces its entity's own MaxDeliveryCount; keep that one higher.)</summary>
    public int MaxDeliveryCount { get; init; } = 5;

    /// <summary>How long a received job stays hidden before another receiver may take it. Jobs
    /// settle early (their claim lives in Blob), so this only has to cover the claim.</summary>
    public TimeSpan JobVisibilityTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long drained events stay hidden: persisting them must finish within it, or
    /// they are delivered again (consumers tolerate duplicates).</summary>
    public TimeSpan EventVisibilityTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Storage Queues have no long polling: how often ReceiveAsync asks while it waits.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Service Bus: how long a drain waits for the first message of the run's session.</summary>
    public TimeSpan DrainWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Storage Queues: the per-run event queue is "{prefix}-{runId}" (see <see cref="StorageQueueNames.ForRun"/>).</summary>
    public string EventQueuePrefix { get; init; } = "rmt-events";

    public void Validate()
    {
        Validation.Range(MaxDeliveryCount, 1, 1000, "messaging.maxDeliveryCount");
        Positive(JobVisibilityTimeout, "messaging.jobVisibilityTimeout");
        Positive(EventVisibilityTimeout, "messaging.eventVisibilityTimeout");
        Positive(PollInterval, "messaging.pollInterval");
        Positive(DrainWait, "messaging.drainWait");
        if (JobVisibilityTimeout > TimeSpan.FromDays(7) || EventVisibilityTimeout > TimeSpan.FromDays(7))
            throw new ContractException("messaging visibility timeouts must be at most 7 days (the Storage Queue limit)");
        if (!StorageQueueNames.IsValid(EventQueuePrefix) || EventQueuePrefix.Length > 20)
            throw new ContractException(
                $"messaging.eventQueuePrefix '{EventQueuePrefix}' must be a valid queue name of at most 20 characters (lower-case letters, digits, single dashes)");
    }

    private static void Positive(TimeSpan value, string field)
    {
        if (value <= TimeSpan.Zero)
            throw new ContractException($"{field} is {value}; it must be positive");
    }
}

using Azure.Storage.Queues;
using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class StorageQueueJobQueueTests(AzuriteFixture azurite)
{
    private static readonly MessagingOptions Fast = new()
    {
        MaxDeliveryCount = 2,
        JobVisibilityTimeout = TimeSpan.FromSeconds(1),
        PollInterval = TimeSpan.FromMilliseconds(100),
    };

    private QueueServiceClient Service => new(azurite.ConnectionString);

    private StorageQueueJobQueue Queue(out string name)
    {
        name = Samples.RunId("jobs");
        return new StorageQueueJobQueue(Service, name, Fast);
    }

    [Fact]
    public async Task Job_round_trips_and_completes()
    {
        var queue = Queue(out var name);
        var job = Samples.Job(Samples.RunId());

        await queue.SendAsync(job);
        var received = await queue.ReceiveAsync(TimeSpan.FromSeconds(5));
        await queue.CompleteAsync(received!);

        Assert.NotNull(received);
        Assert.Null(received.Error);
        Assert.Equal(RmtJson.Serialize(job), RmtJson.Serialize(received.Job));
        Assert.Equal(1, received.DeliveryCount);
        Assert.Equal(0, await CountAsync(name)); // a completed job does not come back
    }

    /// <summary>Messages left in a queue, hidden ones included.</summary>
    private async Task<int> CountAsync(string queueName) =>
        (await Service.GetQueueClient(queueName).GetPropertiesAsync()).Value.ApproximateMessagesCount;

    [Fact]
    public async Task Empty_queue_returns_null_after_the_wait()
    {
        var queue = Queue(out _);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var received = await queue.ReceiveAsync(TimeSpan.FromMilliseconds(400));

        Assert.Null(received);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(350), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Duplicate_sends_are_both_delivered_with_the_same_job_message_id()
    {
        // Storage queues have no duplicate detection: the receiver's claim (Blob) keyed by
        // ReceivedJob.Job.MessageId is what makes a duplicate harmless.
        var queue = Queue(out _);
        var job = Samples.Job(Samples.RunId());
        await queue.SendAsync(job);
        await queue.SendAsync(job);

        var first = await queue.ReceiveAsync(TimeSpan.FromSeconds(5));
        var second = await queue.ReceiveAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(job.MessageId, first!.Job!.MessageId);
        Assert.Equal(job.MessageId, second!.Job!.MessageId);
        Assert.NotEqual(first.MessageId, second.MessageId);
    }

    [Fact]
    public async Task Message_dequeued_more_than_max_times_moves_to_poison()
    {
        var queue = Queue(out var name);
        var job = Samples.Job(Samples.RunId());
        await queue.SendAsync(job);

        // Two receivers take it and "crash" (never settle); each time it reappears after 1 s.
        var first = await queue.ReceiveAsync(TimeSpan.FromSeconds(5));
        var second = await queue.ReceiveAsync(TimeSpan.FromSeconds(5));
        var third = await queue.ReceiveAsync(TimeSpan.FromSeconds(4)); // it reappears after 1 s, is moved, and nothing is left
        var poison = await queue.PeekPoisonAsync();

        Assert.Equal(1, first!.DeliveryCount);
        Assert.Equal(2, second!.DeliveryCount);
        Assert.Null(third);
        Assert.Equal(0, await CountAsync(name));
        var moved = Assert.Single(poison);
        Assert.Equal(name, moved.Queue);
        Assert.Equal(3, moved.DequeueCount);
        Assert.Contains("dequeued 3 times", moved.Reason, StringComparison.Ordinal);
        Assert.Equal(RmtJson.Serialize(job), moved.Body);
        Assert.Equal(name + "-poison", queue.PoisonQueueName);
    }

    public static TheoryData<string, string, string> Malformed()
    {
        var valid = RmtJson.Serialize(Samples.Job("run-x"));
        return new()
        {
            { "bad json", "{\"runId\": \"run-x\",", "malformed JSON" },
            { "wrong schema version", valid.Replace("\"schemaVersion\":1", "\"schemaVersion\":7", StringComparison.Ordinal), "schemaVersion 7" },
            { "unknown stage kind", valid.Replace("\"kind\":\"mid-train\"", "\"kind\":\"fine-tune\"", StringComparison.Ordinal), "unknown stage kind 'fine-tune'" },
            { "invalid job", valid.Replace("\"attempt\":1", "\"attempt\":0", StringComparison.Ordinal), "attempt is 0" },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Malformed_job_is_returned_with_its_error_and_dead_letters_with_the_reason(string what, string body, string expected)
    {
        var queue = Queue(out var name);
        await queue.EnsureCreatedAsync();
        await Service.GetQueueClient(name).SendMessageAsync(body);

        var received = await queue.ReceiveAsync(TimeSpan.FromSeconds(5));
        await queue.DeadLetterAsync(received!, received!.Error!);
        var poison = Assert.Single(await queue.PeekPoisonAsync());

        Assert.True(received.Job is null, $"{what} should not parse");
        Assert.Contains(expected, received.Error, StringComparison.Ordinal);
        Assert.Contains($"stage job message {received.MessageId} on queue {name}", received.Error, StringComparison.Ordinal);
        Assert.Equal(body, received.Body);
        Assert.Equal(received.Error, poison.Reason);
        Assert.Equal(body, poison.Body);
        Assert.Equal(0, await CountAsync(name));
    }

    [Fact]
    public async Task Sending_an_invalid_job_fails_at_the_sender()
    {
        var queue = Queue(out _);

        var error = await Assert.ThrowsAsync<ContractException>(() => queue.SendAsync(Samples.Job(Samples.RunId()) with { Attempt = 0 }));

        Assert.Contains("attempt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settling_a_job_from_another_transport_is_refused()
    {
        var queue = Queue(out _);
        var foreign = new ReceivedJob(null, "x", "{}", "m1", 1, Handle: new object());

        var error = await Assert.ThrowsAsync<ArgumentException>(() => queue.CompleteAsync(foreign));

        Assert.Contains("m1", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("Jobs")]
    [InlineData("rmt--jobs")]
    [InlineData("-jobs")]
    [InlineData("a-name-that-is-far-too-long-for-a-storage-queue-with-poison")]
    public void Invalid_queue_name_is_refused(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => new StorageQueueJobQueue(Service, name));

        Assert.Contains(RmtSettings.JobQueue, error.Message, StringComparison.Ordinal);
    }
}

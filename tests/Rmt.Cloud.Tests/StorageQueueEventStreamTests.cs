using Azure.Storage.Queues;
using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class StorageQueueEventStreamTests(AzuriteFixture azurite)
{
    private static readonly MessagingOptions Fast = new()
    {
        MaxDeliveryCount = 2,
        EventVisibilityTimeout = TimeSpan.FromSeconds(1),
    };

    private QueueServiceClient Service => new(azurite.ConnectionString);

    private StorageQueueEventStream Stream() => new(Service, Fast);

    private static Task Ignore(IReadOnlyList<StageEvent> events) => Task.CompletedTask;

    [Fact]
    public async Task Drain_orders_by_stage_attempt_sequence_and_drops_duplicates()
    {
        var runId = Samples.RunId();
        var stream = Stream();
        var published = new[]
        {
            Samples.Event(runId, "mid-train", 2, 1, StageEventKind.Started),
            Samples.Event(runId, "mid-train", 1, 3, StageEventKind.Failed),
            Samples.Event(runId, "mid-train", 1, 1, StageEventKind.Started),
            Samples.Event(runId, "eval", 1, 1, StageEventKind.Accepted),
            Samples.Event(runId, "mid-train", 1, 2, StageEventKind.Progress),
            Samples.Event(runId, "mid-train", 1, 2, StageEventKind.Progress), // duplicate delivery
            Samples.Event(runId, "mid-train", 2, 2, StageEventKind.CheckpointSaved),
            Samples.Event(runId, "mid-train", 2, 3, StageEventKind.Completed),
        };
        foreach (var e in published) await stream.PublishAsync(e);
        IReadOnlyList<StageEvent>? persisted = null;

        var drained = await stream.DrainAsync(runId, events => { persisted = events; return Task.CompletedTask; });
        var again = await stream.DrainAsync(runId, _ => throw new InvalidOperationException("nothing should be left to persist"));

        Assert.Equal(
            ["eval/1/1", "mid-train/1/1", "mid-train/1/2", "mid-train/1/3", "mid-train/2/1", "mid-train/2/2", "mid-train/2/3"],
            drained.Select(e => $"{e.Stage}/{e.Attempt}/{e.Sequence}"));
        Assert.Same(drained, persisted);
        Assert.Equal(RmtJson.Serialize(published[6]), RmtJson.Serialize(drained[5]));
        Assert.Empty(again);
    }

    [Fact]
    public async Task Runs_have_separate_queues_and_drain_respects_max_events()
    {
        var (a, b) = (Samples.RunId(), Samples.RunId());
        var stream = Stream();
        for (var i = 1; i <= 40; i++) await stream.PublishAsync(Samples.Event(a, "mid-train", 1, i));
        await stream.PublishAsync(Samples.Event(b, "mid-train", 1, 1));

        var first = await stream.DrainAsync(a, Ignore, maxEvents: 35);
        var rest = await stream.DrainAsync(a, Ignore);
        var other = await stream.DrainAsync(b, Ignore);

        Assert.Equal(35, first.Count);
        Assert.Equal(5, rest.Count);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), first.Concat(rest).Select(e => e.Sequence).Order());
        Assert.Equal(b, Assert.Single(other).RunId);
        Assert.NotEqual(stream.QueueNameOf(a), stream.QueueNameOf(b));
    }

    [Fact]
    public async Task Failed_persist_deletes_nothing_and_the_events_come_back()
    {
        var runId = Samples.RunId();
        var stream = Stream();
        await stream.PublishAsync(Samples.Event(runId, "mid-train", 1, 1, StageEventKind.Started));
        await stream.PublishAsync(Samples.Event(runId, "mid-train", 1, 2));

        await Assert.ThrowsAsync<IOException>(() => stream.DrainAsync(runId, _ => throw new IOException("blob append failed")));
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the visibility timeout of the failed drain
        var retried = await stream.DrainAsync(runId, Ignore);

        Assert.Equal([1L, 2L], retried.Select(e => e.Sequence));
    }

    [Fact]
    public async Task Event_dequeued_more_than_max_times_moves_to_poison()
    {
        var runId = Samples.RunId();
        var stream = new StorageQueueEventStream(Service, Fast with { MaxDeliveryCount = 1 });
        await stream.PublishAsync(Samples.Event(runId, "mid-train", 1, 1));

        await Assert.ThrowsAsync<IOException>(() => stream.DrainAsync(runId, _ => throw new IOException("down")));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var drained = await stream.DrainAsync(runId, _ => throw new InvalidOperationException("a poisoned event must not be persisted"));

        Assert.Empty(drained);
        var poison = Assert.Single(await stream.PeekPoisonAsync(runId));
        Assert.Contains("dequeued 2 times", poison.Reason, StringComparison.Ordinal);
        Assert.Equal(stream.QueueNameOf(runId), poison.Queue);
    }

    [Fact]
    public async Task Malformed_events_go_to_poison_with_their_error_and_the_valid_ones_are_drained()
    {
        var runId = Samples.RunId();
        var stream = Stream();
        var valid = RmtJson.Serialize(Samples.Event(runId, "mid-train", 1, 5));
        var bad = new Dictionary<string, string>
        {
            ["{\"runId\":\"" + runId + "\",\"stage\":"] = "malformed JSON",
            [valid.Replace("\"schemaVersion\":1", "\"schemaVersion\":9", StringComparison.Ordinal)] = "schemaVersion 9 is not supported",
            [valid.Replace("\"kind\":\"progress\"", "\"kind\":\"exploded\"", StringComparison.Ordinal)] = "$.kind",
            [valid.Replace("\"sequence\":5", "\"sequence\":5,\"sequense\":6", StringComparison.Ordinal)] = "unknown field 'sequense'",
            [RmtJson.Serialize(Samples.Event("someone-else", "mid-train", 1, 1))] = "belongs to run 'someone-else'",
        };
        await stream.PublishAsync(Samples.Event(runId, "mid-train", 1, 1));
        var raw = Service.GetQueueClient(stream.QueueNameOf(runId));
        foreach (var body in bad.Keys) await raw.SendMessageAsync(body);
        await raw.SendMessageAsync(valid);

        var drained = await stream.DrainAsync(runId, Ignore);
        var poison = await stream.PeekPoisonAsync(runId);

        Assert.Equal([1L, 5L], drained.Select(e => e.Sequence));
        Assert.Equal(bad.Count, poison.Count);
        foreach (var (body, expected) in bad)
        {
            var moved = Assert.Single(poison, p => p.Body == body);
            Assert.Contains(expected, moved.Reason, StringComparison.Ordinal);
        }
        Assert.Equal(0, (await raw.GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }

    [Fact]
    public async Task Publishing_an_invalid_event_fails_at_the_publisher()
    {
        var error = await Assert.ThrowsAsync<ContractException>(
            () => Stream().PublishAsync(Samples.Event(Samples.RunId(), "mid-train", 1, 1, StageEventKind.Completed) with { Result = null }));

        Assert.Contains("result", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_event_is_refused_with_the_limit_named()
    {
        var huge = Samples.Event(Samples.RunId(), "mid-train", 1, 1, StageEventKind.Started) with { Message = new string('x', 70_000) };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => Stream().PublishAsync(huge));

        Assert.Contains("65536-byte storage queue message limit", error.Message, StringComparison.Ordinal);
        Assert.Contains(huge.MessageId, error.Message, StringComparison.Ordinal);
    }
}

using Azure.Messaging.ServiceBus;
using Rmt.Contracts;

namespace Rmt.Cloud.Tests;

/// <summary>No Service Bus broker runs here: these tests pin every mapping between our records and
/// ServiceBusMessage / ServiceBusReceivedMessage, the latter built with ServiceBusModelFactory
/// exactly as the SDK hands it to a receiver.</summary>
public sealed class ServiceBusMappingTests
{
    /// <summary>What a receiver gets for a sent message (the broker copies these fields).</summary>
    private static ServiceBusReceivedMessage Delivered(ServiceBusMessage sent, int deliveryCount = 1) =>
        ServiceBusModelFactory.ServiceBusReceivedMessage(
            body: sent.Body, messageId: sent.MessageId, sessionId: sent.SessionId, correlationId: sent.CorrelationId,
            subject: sent.Subject, contentType: sent.ContentType, properties: sent.ApplicationProperties,
            deliveryCount: deliveryCount, sequenceNumber: 42, enqueuedTime: DateTimeOffset.UtcNow);

    private static ServiceBusReceivedMessage Raw(string body, string messageId = "m-1", string? sessionId = null,
        string? contentType = ServiceBusMapping.JsonContentType, IDictionary<string, object>? properties = null) =>
        ServiceBusModelFactory.ServiceBusReceivedMessage(
            body: BinaryData.FromString(body), messageId: messageId, sessionId: sessionId, contentType: contentType,
            properties: properties ?? new Dictionary<string, object>(), deliveryCount: 1);

    [Fact]
    public void Job_maps_to_a_message_with_id_properties_and_json_body()
    {
        var job = Samples.Job("run-1", attempt: 2);

        var message = ServiceBusMapping.ToMessage(job);

        Assert.Equal("run-1/mid-train/2", message.MessageId);
        Assert.Equal("application/json", message.ContentType);
        Assert.Equal("stage-job", message.Subject);
        Assert.Equal("run-1", message.CorrelationId);
        Assert.Null(message.SessionId); // the job queue is not session-enabled (KEDA reads it as a plain queue)
        Assert.Equal(RmtJson.Serialize(job), message.Body.ToString());
        Assert.Equal("run-1", message.ApplicationProperties["runId"]);
        Assert.Equal("mid-train", message.ApplicationProperties["stage"]);
        Assert.Equal("mid-train", message.ApplicationProperties["kind"]);
        Assert.Equal(2, message.ApplicationProperties["attempt"]);
        Assert.Equal(SchemaVersions.Current, message.ApplicationProperties["schemaVersion"]);
        Assert.Equal(job.TraceParent, message.ApplicationProperties["traceparent"]);
    }

    [Fact]
    public void Received_job_message_maps_back_to_the_same_job()
    {
        var job = Samples.Job("run-1");
        var delivered = Delivered(ServiceBusMapping.ToMessage(job), deliveryCount: 3);

        var received = ServiceBusMapping.ToReceivedJob(delivered);

        Assert.Null(received.Error);
        Assert.Equal(RmtJson.Serialize(job), RmtJson.Serialize(received.Job));
        Assert.Equal(job.MessageId, received.MessageId);
        Assert.Equal(3, received.DeliveryCount);
        Assert.Same(delivered, received.Handle);
        Assert.Equal(delivered.Body.ToString(), received.Body);
    }

    [Fact]
    public void Event_maps_to_a_session_message_and_back()
    {
        var e = Samples.Event("run-7", "post-train", 2, 11, StageEventKind.CheckpointSaved) with { TraceParent = "00-abc-def-01" };

        var message = ServiceBusMapping.ToMessage(e);
        var received = ServiceBusMapping.ToReceivedEvent(Delivered(message, deliveryCount: 2));

        Assert.Equal("run-7", message.SessionId);
        Assert.Equal("run-7/post-train/2/11", message.MessageId);
        Assert.Equal("stage-event", message.Subject);
        Assert.Equal("application/json", message.ContentType);
        Assert.Equal("checkpoint-saved", message.ApplicationProperties["kind"]);
        Assert.Equal(11L, message.ApplicationProperties["sequence"]);
        Assert.Equal(2, message.ApplicationProperties["attempt"]);
        Assert.Equal("00-abc-def-01", message.ApplicationProperties["traceparent"]);
        Assert.Null(received.Error);
        Assert.Equal(RmtJson.Serialize(e), RmtJson.Serialize(received.Event));
        Assert.Equal(2, received.DeliveryCount);
        Assert.Equal(e.MessageId, received.MessageId);
    }

    [Theory]
    [InlineData(StageEventKind.Accepted)]
    [InlineData(StageEventKind.Started)]
    [InlineData(StageEventKind.Progress)]
    [InlineData(StageEventKind.CheckpointSaved)]
    [InlineData(StageEventKind.Completed)]
    [InlineData(StageEventKind.Failed)]
    public void Every_event_kind_round_trips_and_its_property_matches_the_json_name(StageEventKind kind)
    {
        var e = Samples.Event("run-1", "mid-train", 1, 4, kind);

        var message = ServiceBusMapping.ToMessage(e);
        var back = ServiceBusMapping.ToReceivedEvent(Delivered(message));

        Assert.Contains($"\"kind\":\"{message.ApplicationProperties["kind"]}\"", message.Body.ToString(), StringComparison.Ordinal);
        Assert.Equal(RmtJson.Serialize(e), RmtJson.Serialize(back.Event));
    }

    [Fact]
    public void Every_stage_kind_round_trips_as_a_job()
    {
        foreach (var kind in Enum.GetValues<StageKind>())
        {
            var job = new StageJob("run-1", "s1", kind, 1, BlobLayout.CheckpointPrefix("run-1", "s1"),
                BaseCheckpoint: BlobLayout.Checkpoint("run-1", "pretrain", 10),
                Pretrain: kind == StageKind.Pretrain ? new PretrainConfig() : null,
                MidTrain: kind == StageKind.MidTrain ? new MidTrainConfig() : null,
                PostTrain: kind == StageKind.PostTrain ? new PostTrainConfig() : null,
                Eval: kind == StageKind.Eval ? new EvalConfig() : null);

            var message = ServiceBusMapping.ToMessage(job);
            var back = ServiceBusMapping.ToReceivedJob(Delivered(message));

            Assert.Equal(kind.ToName(), message.ApplicationProperties["kind"]);
            Assert.Equal(RmtJson.Serialize(job), RmtJson.Serialize(back.Job));
        }
    }

    public static TheoryData<string, string> BadJobBodies()
    {
        var valid = RmtJson.Serialize(Samples.Job("run-1"));
        return new()
        {
            { "not json at all", "malformed JSON" },
            { valid.Replace("\"schemaVersion\":1", "\"schemaVersion\":2", StringComparison.Ordinal), "schemaVersion 2 is not supported" },
            { valid.Replace("\"kind\":\"mid-train\"", "\"kind\":\"midtrain\"", StringComparison.Ordinal), "unknown stage kind 'midtrain'" },
            { "", "the document is empty" },
        };
    }

    [Theory]
    [MemberData(nameof(BadJobBodies))]
    public void Malformed_job_body_maps_to_a_clear_error_not_a_job(string body, string expected)
    {
        var received = ServiceBusMapping.ToReceivedJob(Raw(body, messageId: "m-9"));

        Assert.Null(received.Job);
        Assert.Contains(expected, received.Error, StringComparison.Ordinal);
        Assert.Contains("stage job message m-9", received.Error, StringComparison.Ordinal);
        Assert.Equal(body, received.Body);
    }

    [Fact]
    public void Job_with_properties_that_contradict_the_body_is_rejected()
    {
        var message = ServiceBusMapping.ToMessage(Samples.Job("run-1"));
        message.ApplicationProperties["runId"] = "run-2";

        var received = ServiceBusMapping.ToReceivedJob(Delivered(message));

        Assert.Null(received.Job);
        Assert.Contains("'runId' is 'run-2' but the body says 'run-1'", received.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_without_properties_or_content_type_still_maps_from_its_body()
    {
        var job = Samples.Job("run-1");

        var received = ServiceBusMapping.ToReceivedJob(Raw(RmtJson.Serialize(job), contentType: null));

        Assert.Equal(RmtJson.Serialize(job), RmtJson.Serialize(received.Job));
    }

    [Fact]
    public void Non_json_content_type_is_rejected()
    {
        var received = ServiceBusMapping.ToReceivedJob(Raw(RmtJson.Serialize(Samples.Job("run-1")), contentType: "application/xml"));

        Assert.Contains("content type 'application/xml'", received.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Event_in_the_wrong_session_is_rejected()
    {
        var message = ServiceBusMapping.ToMessage(Samples.Event("run-1", "mid-train", 1, 1));
        message.SessionId = "run-2";

        var received = ServiceBusMapping.ToReceivedEvent(Delivered(message));

        Assert.Null(received.Event);
        Assert.Contains("session id 'run-2' is not the event's runId 'run-1'", received.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_event_bodies_map_to_clear_errors()
    {
        var valid = RmtJson.Serialize(Samples.Event("run-1", "mid-train", 1, 1));
        var cases = new Dictionary<string, string>
        {
            ["{"] = "malformed JSON",
            [valid.Replace("\"schemaVersion\":1", "\"schemaVersion\":0", StringComparison.Ordinal)] = "schemaVersion 0 is not supported",
            [valid.Replace("\"kind\":\"progress\"", "\"kind\":\"done\"", StringComparison.Ordinal)] = "$.kind",
            [valid.Replace("\"sequence\":1", "\"sequence\":0", StringComparison.Ordinal)] = "sequence is 0",
        };

        foreach (var (body, expected) in cases)
        {
            var received = ServiceBusMapping.ToReceivedEvent(Raw(body, messageId: "e-1", sessionId: "run-1"));

            Assert.Null(received.Event);
            Assert.Contains(expected, received.Error, StringComparison.Ordinal);
            Assert.Contains("stage event message e-1", received.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Invalid_records_are_refused_before_they_are_sent()
    {
        Assert.Throws<ContractException>(() => ServiceBusMapping.ToMessage(Samples.Job("run-1") with { Stage = "Bad Stage" }));
        Assert.Throws<ContractException>(() => ServiceBusMapping.ToMessage(Samples.Event("run-1", "mid-train", 1, 1, StageEventKind.Failed) with { Failure = null }));
    }
}

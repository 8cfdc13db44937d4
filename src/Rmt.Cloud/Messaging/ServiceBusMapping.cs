using System.Globalization;
using Azure.Messaging.ServiceBus;
using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>A stage event taken from Service Bus. <see cref="Event"/> is null when the message did
/// not map; <see cref="Error"/> then says why, and the stream dead-letters it.</summary>
public sealed record ReceivedEvent(StageEvent? Event, string? Error, string Body, string MessageId, long DeliveryCount);

/// <summary>
/// Our records &lt;-&gt; Service Bus messages. The body is the record's JSON (RmtJson, content type
/// application/json) and is the source of truth; application properties repeat the routing fields
/// (runId, stage, kind, attempt, sequence, schemaVersion) so that operators and subscription
/// filters can read them without parsing, and a message whose properties contradict its body is
/// rejected. MessageId is the record's stable id (duplicate detection); events carry SessionId =
/// runId so that one run's events are read in order by one receiver.
/// </summary>
public static class ServiceBusMapping
{
    public const string JsonContentType = "application/json";
    public const string JobSubject = "stage-job";
    public const string EventSubject = "stage-event";

    /// <summary>Names of the application properties.</summary>
    public static class Properties
    {
        public const string RunId = "runId";
        public const string Stage = "stage";
        public const string Kind = "kind";
        public const string Attempt = "attempt";
        public const string Sequence = "sequence";
        public const string SchemaVersion = "schemaVersion";
        public const string TraceParent = "traceparent";
    }

    public static ServiceBusMessage ToMessage(StageJob job)
    {
        job.Validate();
        var message = new ServiceBusMessage(BinaryData.FromString(RmtJson.Serialize(job)))
        {
            MessageId = job.MessageId,
            ContentType = JsonContentType,
            Subject = JobSubject,
            CorrelationId = job.RunId,
        };
        message.ApplicationProperties[Properties.RunId] = job.RunId;
        message.ApplicationProperties[Properties.Stage] = job.Stage;
        message.ApplicationProperties[Properties.Kind] = job.Kind.ToName();
        message.ApplicationProperties[Properties.Attempt] = job.Attempt;
        message.ApplicationProperties[Properties.SchemaVersion] = job.SchemaVersion;
        if (job.TraceParent is not null) message.ApplicationProperties[Properties.TraceParent] = job.TraceParent;
        return message;
    }

    public static ReceivedJob ToReceivedJob(ServiceBusReceivedMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var body = message.Body?.ToString() ?? "";
        var document = $"stage job message {message.MessageId}";
        try
        {
            CheckContentType(message, document);
            var job = RmtJson.ParseJob(body, document);
            CheckProperties(message, document,
                (Properties.RunId, job.RunId), (Properties.Stage, job.Stage), (Properties.Kind, job.Kind.ToName()),
                (Properties.Attempt, Text(job.Attempt)), (Properties.SchemaVersion, Text(job.SchemaVersion)));
            return new ReceivedJob(job, null, body, message.MessageId, message.DeliveryCount, message);
        }
        catch (ContractException e)
        {
            return new ReceivedJob(null, e.Message, body, message.MessageId, message.DeliveryCount, message);
        }
    }

    public static ServiceBusMessage ToMessage(StageEvent stageEvent)
    {
        stageEvent.Validate();
        var message = new ServiceBusMessage(BinaryData.FromString(RmtJson.Serialize(stageEvent)))
        {
            MessageId = stageEvent.MessageId,
            SessionId = stageEvent.RunId,
            ContentType = JsonContentType,
            Subject = EventSubject,
            CorrelationId = stageEvent.RunId,
        };
        message.ApplicationProperties[Properties.RunId] = stageEvent.RunId;
        message.ApplicationProperties[Properties.Stage] = stageEvent.Stage;
        message.ApplicationProperties[Properties.Kind] = KindName(stageEvent.Kind);
        message.ApplicationProperties[Properties.Attempt] = stageEvent.Attempt;
        message.ApplicationProperties[Properties.Sequence] = stageEvent.Sequence;
        message.ApplicationProperties[Properties.SchemaVersion] = stageEvent.SchemaVersion;
        if (stageEvent.TraceParent is not null) message.ApplicationProperties[Properties.TraceParent] = stageEvent.TraceParent;
        return message;
    }

    public static ReceivedEvent ToReceivedEvent(ServiceBusReceivedMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var body = message.Body?.ToString() ?? "";
        var document = $"stage event message {message.MessageId}";
        try
        {
            CheckContentType(message, document);
            var stageEvent = RmtJson.ParseEvent(body, document);
            if (message.SessionId != stageEvent.RunId)
                throw new ContractException(
                    $"{document}: session id '{message.SessionId}' is not the event's runId '{stageEvent.RunId}'; publish events with SessionId = runId");
            CheckProperties(message, document,
                (Properties.RunId, stageEvent.RunId), (Properties.Stage, stageEvent.Stage), (Properties.Kind, KindName(stageEvent.Kind)),
                (Properties.Attempt, Text(stageEvent.Attempt)), (Properties.Sequence, Text(stageEvent.Sequence)),
                (Properties.SchemaVersion, Text(stageEvent.SchemaVersion)));
            return new ReceivedEvent(stageEvent, null, body, message.MessageId, message.DeliveryCount);
        }
        catch (ContractException e)
        {
            return new ReceivedEvent(null, e.Message, body, message.MessageId, message.DeliveryCount);
        }
    }

    /// <summary>The event kind's JSON name ("checkpoint-saved"); a test keeps it equal to the contract's.</summary>
    public static string KindName(StageEventKind kind) => kind switch
    {
        StageEventKind.Accepted => "accepted",
        StageEventKind.Started => "started",
        StageEventKind.Progress => "progress",
        StageEventKind.CheckpointSaved => "checkpoint-saved",
        StageEventKind.Completed => "completed",
        StageEventKind.Failed => "failed",
        StageEventKind.Heartbeat => "heartbeat",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown stage event kind"),
    };

    private static void CheckContentType(ServiceBusReceivedMessage message, string document)
    {
        if (message.ContentType is not null && !message.ContentType.StartsWith(JsonContentType, StringComparison.OrdinalIgnoreCase))
            throw new ContractException($"{document}: content type '{message.ContentType}' is not {JsonContentType}; send the record's JSON");
    }

    private static void CheckProperties(ServiceBusReceivedMessage message, string document, params (string Name, string BodyValue)[] expected)
    {
        foreach (var (name, bodyValue) in expected)
        {
            if (!message.ApplicationProperties.TryGetValue(name, out var value) || value is null) continue;
            var text = Convert.ToString(value, CultureInfo.InvariantCulture);
            if (text != bodyValue)
                throw new ContractException($"{document}: application property '{name}' is '{text}' but the body says '{bodyValue}'; the sender mapped it wrongly");
        }
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}

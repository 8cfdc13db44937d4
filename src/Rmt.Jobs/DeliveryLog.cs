using System.Globalization;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>One line of runs/{runId}/{stage}/deliveries/attempt-{n}.jsonl: an execution received the
/// job's message ("received") or settled it ("settled": completed, or dead-lettered by this guard).</summary>
public sealed record DeliveryLine(string Event, string Host, int ProcessId, long Delivery, DateTimeOffset At, string MessageId)
{
    public const string Received = "received";
    public const string Settled = "settled";

    /// <summary>Which execution wrote the line (one process handles one delivery).</summary>
    public string Execution => $"{Host}/pid-{ProcessId.ToString(CultureInfo.InvariantCulture)}/delivery-{Delivery.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>The delivery marker: catches executions that receive a job and die before they settle its
/// message (a native crash or OOM kill in the claim step, a storage failure there, a platform kill).
/// The queue brings the message back after its lock or visibility timeout, and nothing else would say
/// why; Service Bus would start up to maxDeliveryCount (5) GPU executions before it dead-letters, and the
/// orchestration would learn of it only from its stage timeout.
/// <para>Every execution appends "received" right after it takes the message and "settled" right after
/// it settles it. An execution that finds earlier "received" lines without their "settled" logs them
/// (who, when); once there are <see cref="JobRunnerOptions.MaxUnsettledDeliveries"/> of them it
/// dead-letters the message (the dead-letter alert fires) and publishes a permanent infrastructure
/// 'failed' event, so the run fails with the reason instead of starting more GPU executions.</para>
/// <para>Best effort: when the marker cannot be read or written (storage down) the job goes on, and the
/// queue's own maxDeliveryCount still bounds the deliveries. It cannot catch a container that dies before
/// it receives (a wrong image): nothing runs to write a marker; the failed-executions alert covers that.</para></summary>
public sealed class DeliveryLog(IArtifactStore store, ILogger logger, TimeProvider time, string host)
{
    /// <summary>The earlier executions that received this job and never settled it.</summary>
    public async Task<IReadOnlyList<DeliveryLine>> UnsettledAsync(StageJob job, CancellationToken ct)
    {
        var text = await store.ReadTextAsync(JobBlobs.Deliveries(job.RunId, job.Stage, job.Attempt), ct);
        var lines = (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(JobsJson.TryParse<DeliveryLine>)
            .OfType<DeliveryLine>()
            .ToList();
        var settled = lines.Where(l => l.Event == DeliveryLine.Settled).Select(l => l.Execution).ToHashSet(StringComparer.Ordinal);
        return [.. lines.Where(l => l.Event == DeliveryLine.Received && !settled.Contains(l.Execution))];
    }

    public Task ReceivedAsync(StageJob job, long delivery, CancellationToken ct) => AppendAsync(job, DeliveryLine.Received, delivery, ct);

    public Task SettledAsync(StageJob job, long delivery, CancellationToken ct) => AppendAsync(job, DeliveryLine.Settled, delivery, ct);

    private async Task AppendAsync(StageJob job, string kind, long delivery, CancellationToken ct)
    {
        var line = new DeliveryLine(kind, host, Environment.ProcessId, delivery, time.GetUtcNow(), job.MessageId);
        try
        {
            await store.AppendLinesAsync(JobBlobs.Deliveries(job.RunId, job.Stage, job.Attempt), [JobsJson.Serialize(line)], ct);
        }
        catch (Exception e) when (FailureClassifier.IsInfrastructure(e) && !ct.IsCancellationRequested)
        {
            logger.LogWarning("could not write the delivery marker '{Kind}' of job {MessageId} ({Error}); the queue's delivery count still bounds redeliveries",
                kind, job.MessageId, FailureClassifier.Describe(e));
        }
    }

    /// <summary>The message of the 'failed' event and the dead-letter reason.</summary>
    public static string Describe(StageJob job, IReadOnlyList<DeliveryLine> unsettled) =>
        $"{unsettled.Count.ToString(CultureInfo.InvariantCulture)} earlier execution(s) received job {job.MessageId} and never settled it " +
        $"({string.Join(", ", unsettled.Select(u => $"{u.Execution} at {u.At:u}"))}): each died or failed between receiving the message and " +
        "claiming the attempt (the container logs of those executions, e.g. ContainerAppConsoleLogs, say why)";
}

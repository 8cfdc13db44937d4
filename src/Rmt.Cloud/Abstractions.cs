using Rmt.Contracts;

namespace Rmt.Cloud;

// The storage and messaging seams of RMT. Each has a Blob/Storage-Queue implementation (what runs on
// Azurite and in the tests) and, for messaging, a Service Bus implementation (Azure). Paths are blob
// paths "container/name" (BlobLayout); messages are the records of Rmt.Contracts.

/// <summary>Datasets, checkpoints and run artifacts in Blob Storage.</summary>
public interface IArtifactStore
{
    /// <summary>Uploads every file under <paramref name="localDir"/> as the checkpoint at
    /// <paramref name="checkpointPath"/> (checkpoints/{runId}/{stage}/step-{n}) and writes its
    /// manifest (SHA-256 and size of every file) last, so a half-written checkpoint is never
    /// listed. Two writers racing on the same path never produce a mixed checkpoint: the first
    /// manifest committed wins, and the losers get the winner's manifest back (compare
    /// <see cref="CheckpointManifest.Writer"/>; <see cref="BlobArtifactStore"/> explains the design).
    /// An existing checkpoint is never overwritten here (a corrupt one is replaced only by <see cref="ReplaceCorruptCheckpointAsync"/>).</summary>
    Task<CheckpointManifest> UploadCheckpointAsync(string checkpointPath, string localDir, string? writer = null, CancellationToken ct = default);

    /// <summary>Replaces the committed checkpoint whose manifest is <paramref name="corrupt"/> (it failed
    /// verification, so the step could never be used) with the files under <paramref name="localDir"/>.
    /// The new manifest is written only while the corrupt one is still there (If-Match its ETag): of two
    /// replacers one wins and the other gets the winner's manifest back, as with
    /// <see cref="UploadCheckpointAsync"/>. The corrupt files are deleted once nothing lists them.</summary>
    Task<CheckpointManifest> ReplaceCorruptCheckpointAsync(
        string checkpointPath, string localDir, CheckpointManifest corrupt, string? writer = null, CancellationToken ct = default);

    /// <summary>Downloads a checkpoint into <paramref name="localDir"/> and verifies every file
    /// against its manifest. Throws <see cref="ArtifactException"/> naming the blob that is missing
    /// or corrupted.</summary>
    Task<CheckpointManifest> DownloadCheckpointAsync(string checkpointPath, string localDir, CancellationToken ct = default);

    /// <summary>The checkpoints of a run's stage that have a valid manifest, newest step first.
    /// Folders without one (half-written, or written by a crashed job) are skipped.</summary>
    Task<IReadOnlyList<CheckpointRef>> ListCheckpointsAsync(string runId, string stage, CancellationToken ct = default);

    Task UploadFileAsync(string blobPath, string localFile, CancellationToken ct = default);

    /// <summary>Throws <see cref="ArtifactException"/> naming the URI when the blob is missing.</summary>
    Task DownloadFileAsync(string blobPath, string localFile, CancellationToken ct = default);

    Task WriteTextAsync(string blobPath, string text, CancellationToken ct = default);

    /// <summary>The blob's text, or null when it does not exist.</summary>
    Task<string?> ReadTextAsync(string blobPath, CancellationToken ct = default);

    /// <summary>Creates the blob only if it does not exist yet (claims, markers). False when it existed
    /// with other text; true when this call created it, also when the reply was lost and the retry found
    /// the same text there. Write text that is unique to the writer (host, process, time, nonce).</summary>
    Task<bool> TryCreateTextAsync(string blobPath, string text, CancellationToken ct = default);

    /// <summary>Appends lines to an append log (events.jsonl, metrics.jsonl), creating it if needed. An
    /// append blob takes at most 50,000 blocks: a full part rolls over to the next
    /// (<see cref="BlobLayout.AppendLogPart"/>), so read the log with <see cref="ReadAppendLogAsync"/>.</summary>
    Task AppendLinesAsync(string blobPath, IReadOnlyList<string> lines, CancellationToken ct = default);

    /// <summary>The text of every part of an append log, in order; null when it has no part.</summary>
    Task<string?> ReadAppendLogAsync(string blobPath, CancellationToken ct = default);

    Task<bool> ExistsAsync(string blobPath, CancellationToken ct = default);

    /// <summary>Blob paths under a prefix, in name order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default);

    /// <summary>Full URI of a blob path, for reports and logs.</summary>
    Uri UriOf(string blobPath);
}

/// <summary>A job taken from the queue. <see cref="Job"/> is null when the message did not parse;
/// <see cref="Error"/> then says why, and the caller dead-letters it.</summary>
public sealed record ReceivedJob(
    StageJob? Job,
    string? Error,
    string Body,
    string MessageId,
    long DeliveryCount,
    object Handle);

/// <summary>Where stage jobs wait for a trainer (Service Bus queue in Azure, Storage queue locally).</summary>
public interface IJobQueue
{
    Task SendAsync(StageJob job, CancellationToken ct = default);

    /// <summary>The next job, or null when none arrived within <paramref name="wait"/>. Messages
    /// delivered too often are moved to dead-letter (poison) before they are returned.</summary>
    Task<ReceivedJob?> ReceiveAsync(TimeSpan wait, CancellationToken ct = default);

    /// <summary>Removes the message for good (the job settles early; its claim lives in Blob).</summary>
    Task CompleteAsync(ReceivedJob job, CancellationToken ct = default);

    /// <summary>Moves the message to the dead-letter queue (Service Bus) or "{queue}-poison" (Storage) with a reason.</summary>
    Task DeadLetterAsync(ReceivedJob job, string reason, CancellationToken ct = default);
}

/// <summary>Stage events of a run, from the trainer to the orchestration (Service Bus topic with a
/// session per run in Azure; a per-run Storage queue locally).</summary>
public interface IStageEventStream
{
    Task PublishAsync(StageEvent stageEvent, CancellationToken ct = default);

    /// <summary>Takes up to <paramref name="maxEvents"/> pending events of a run, ordered by
    /// (stage, attempt, sequence) without duplicates, hands them to <paramref name="persist"/>, and
    /// removes them from the transport only after it returns, so nothing is lost if it throws.
    /// Malformed messages are dead-lettered, never dropped silently.</summary>
    Task<IReadOnlyList<StageEvent>> DrainAsync(
        string runId, Func<IReadOnlyList<StageEvent>, Task> persist, int maxEvents = 256, CancellationToken ct = default);
}

/// <summary>A missing or corrupted artifact. The message names the blob URI.</summary>
public sealed class ArtifactException : Exception
{
    public ArtifactException(string message) : base(message) { }
    public ArtifactException(string message, Exception inner) : base(message, inner) { }
    public ArtifactException() { }
}

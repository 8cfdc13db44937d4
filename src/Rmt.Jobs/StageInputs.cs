using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>A dataset copied to the job's disk and what it hashed to (recorded in the report).</summary>
public sealed record LocalDataset(string BlobPath, string LocalPath, long Bytes, string Sha256);

/// <summary>Brings a stage's inputs to local disk and checks them before any training starts.</summary>
public sealed class StageInputs(IArtifactStore store, ILogger logger)
{
    /// <summary>Suffix of an optional sidecar blob holding a dataset's SHA-256 (hex), e.g.
    /// datasets/gsm8k/train.jsonl.sha256. When present, the download must match it.</summary>
    public const string ChecksumSuffix = ".sha256";

    /// <summary>Downloads a dataset: one blob, or every blob under a prefix (a folder of shards).
    /// Throws <see cref="ArtifactException"/> when it is missing, empty, or does not match its checksum.</summary>
    public async Task<LocalDataset> DownloadDatasetAsync(string blobPath, string localRoot, string field, CancellationToken ct)
    {
        var (_, name) = BlobLayout.Split(blobPath);
        if (await store.ExistsAsync(blobPath, ct))
        {
            var local = Path.Combine(localRoot, name.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await store.DownloadFileAsync(blobPath, local, ct);
            var bytes = new FileInfo(local).Length;
            if (bytes == 0)
                throw new ArtifactException($"{field} {store.UriOf(blobPath)} is empty; upload the dataset again");
            var sha = await Sha256Async(local, ct);
            var expected = await store.ReadTextAsync(blobPath + ChecksumSuffix, ct);
            if (expected is not null && !string.Equals(expected.Trim(), sha, StringComparison.OrdinalIgnoreCase))
                throw new ArtifactException(
                    $"{field} {store.UriOf(blobPath)} hashes to {sha} but {blobPath}{ChecksumSuffix} says {expected.Trim()}; the upload is corrupted, upload it again");
            logger.LogInformation("{Field}: {Blob} ({Bytes} bytes, sha256 {Sha}{Checked})", field, blobPath, bytes, sha[..12],
                expected is null ? "" : ", matches its checksum");
            return new LocalDataset(blobPath, local, bytes, sha);
        }

        var files = (await store.ListAsync(blobPath.TrimEnd('/') + "/", ct))
            .Where(p => !p.EndsWith(ChecksumSuffix, StringComparison.Ordinal)).ToList();
        if (files.Count == 0)
            throw new ArtifactException(
                $"{field} {store.UriOf(blobPath)} does not exist (no blob and no blobs under it); upload it or fix the path in the job");
        var folder = Path.Combine(localRoot, name.Replace('/', Path.DirectorySeparatorChar));
        long total = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            var relative = file[(blobPath.TrimEnd('/').Length + 1)..];
            var local = Path.Combine(folder, relative.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await store.DownloadFileAsync(file, local, ct);
            total += new FileInfo(local).Length;
            hash.AppendData(Convert.FromHexString(await Sha256Async(local, ct)));
        }
        if (total == 0)
            throw new ArtifactException($"{field} {store.UriOf(blobPath)} holds only empty blobs; upload the dataset again");
        var combined = Convert.ToHexStringLower(hash.GetHashAndReset());
        logger.LogInformation("{Field}: {Blob}/ ({Count} files, {Bytes} bytes)", field, blobPath, files.Count, total);
        return new LocalDataset(blobPath, folder, total, combined);
    }

    /// <summary>Downloads and verifies the base checkpoint against its manifest.</summary>
    public async Task<CheckpointManifest> DownloadBaseCheckpointAsync(string blobPath, string localDir, CancellationToken ct)
    {
        var manifest = await store.DownloadCheckpointAsync(blobPath, localDir, ct);
        logger.LogInformation("base checkpoint {Blob}: step {Step}, {Files} files verified", blobPath, manifest.Step, manifest.Files.Count);
        return manifest;
    }

    /// <summary>The newest checkpoint of this run and stage that downloads and verifies. A newer one
    /// that fails verification is skipped and named in <see cref="ResumeSearch.Skipped"/>, so the
    /// caller can say so.</summary>
    public async Task<ResumeSearch> FindResumePointAsync(string runId, string stage, string localRoot, CancellationToken ct)
    {
        var skipped = new List<string>();
        foreach (var candidate in await store.ListCheckpointsAsync(runId, stage, ct))
        {
            var local = Path.Combine(localRoot, $"resume-step-{candidate.Step}");
            if (Directory.Exists(local)) Directory.Delete(local, recursive: true);
            try
            {
                await store.DownloadCheckpointAsync(BlobLayout.Checkpoint(runId, stage, candidate.Step), local, ct);
                return new ResumeSearch(new ResumePoint(candidate, local), skipped);
            }
            catch (ArtifactException e)
            {
                var note = $"checkpoint {candidate.Uri} (step {candidate.Step}) failed verification: {e.Message}";
                logger.LogWarning("{Note}; falling back to the previous checkpoint", note);
                skipped.Add(note);
                if (Directory.Exists(local)) Directory.Delete(local, recursive: true);
            }
        }
        return new ResumeSearch(null, skipped);
    }

    private static async Task<string> Sha256Async(string file, CancellationToken ct)
    {
        await using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }
}

/// <summary>Where to resume, and the newer checkpoints that were skipped because they failed verification.</summary>
public sealed record ResumeSearch(ResumePoint? Resume, IReadOnlyList<string> Skipped)
{
    /// <summary>One sentence for the log and the 'started' event.</summary>
    public string Describe()
    {
        var start = Resume is null
            ? "starting from step 0 (no earlier checkpoint of this stage)"
            : $"resuming from step {Resume.Checkpoint.Step} ({Resume.Checkpoint.Uri})";
        return Skipped.Count == 0
            ? start
            : $"{start}; fell back because {string.Join("; ", Skipped)}";
    }
}

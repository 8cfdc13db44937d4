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
            var sha = await FileHash.Sha256Async(local, ct);
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
            hash.AppendData(Convert.FromHexString(await FileHash.Sha256Async(local, ct)));
        }
        if (total == 0)
            throw new ArtifactException($"{field} {store.UriOf(blobPath)} holds only empty blobs; upload the dataset again");
        var combined = Convert.ToHexStringLower(hash.GetHashAndReset());
        logger.LogInformation("{Field}: {Blob}/ ({Count} files, {Bytes} bytes)", field, blobPath, files.Count, total);
        return new LocalDataset(blobPath, folder, total, combined);
    }

    /// <summary>Everything a stage reads, on local disk under <paramref name="inputDir"/>: dataset(s)
    /// (pinned to the run when <paramref name="fixedInputs"/>), the verified base checkpoint, and the
    /// newest checkpoint of this run and stage that verifies (in <paramref name="resumeDir"/>).
    /// <paramref name="afterInputs"/> runs between the job's inputs (whose failures are the job's fault)
    /// and the resume search (whose failures are not).</summary>
    public async Task<PreparedInputs> PrepareAsync(StageJob job, string inputDir, string resumeDir, bool fixedInputs, Action afterInputs, CancellationToken ct)
    {
        var datasets = new List<LocalDataset>();
        async Task<string?> DatasetAsync(string? blobPath, string folder, string field)
        {
            if (blobPath is null) return null;
            var dataset = await DownloadDatasetAsync(blobPath, Path.Combine(inputDir, folder), field, ct);
            if (fixedInputs) await PinDatasetAsync(job.RunId, dataset, field, ct);
            datasets.Add(dataset);
            return dataset.LocalPath;
        }
        var datasetPath = await DatasetAsync(job.Dataset, "dataset", "dataset");
        var evalDatasetPath = await DatasetAsync(job.EvalDataset, "eval-dataset", "evalDataset");
        string? baseDir = null;
        if (job.BaseCheckpoint is not null)
        {
            baseDir = Path.Combine(inputDir, "base-checkpoint");
            await DownloadBaseCheckpointAsync(job.BaseCheckpoint, baseDir, ct);
        }
        afterInputs();
        var resume = await FindResumePointAsync(job, resumeDir, ct, sameConfig: fixedInputs);
        return new PreparedInputs(datasetPath, evalDatasetPath, baseDir, datasets, resume);
    }

    /// <summary>Downloads and verifies the base checkpoint against its manifest.</summary>
    public async Task<CheckpointManifest> DownloadBaseCheckpointAsync(string blobPath, string localDir, CancellationToken ct)
    {
        var manifest = await store.DownloadCheckpointAsync(blobPath, localDir, ct);
        logger.LogInformation("base checkpoint {Blob}: step {Step}, {Files} files verified", blobPath, manifest.Step, manifest.Files.Count);
        return manifest;
    }

    /// <summary>The newest checkpoint of the job's run and stage that downloads and verifies. A newer one
    /// that fails verification is skipped and named in <see cref="ResumeSearch.Skipped"/>, so the
    /// caller can say so. A checkpoint saved by a job with another stage config (the job file every
    /// checkpoint carries) is refused with a <see cref="ContractException"/>: resuming it would train
    /// one stage under two configs.</summary>
    public async Task<ResumeSearch> FindResumePointAsync(StageJob job, string localRoot, CancellationToken ct, bool sameConfig = true)
    {
        var skipped = new List<string>();
        foreach (var candidate in await store.ListCheckpointsAsync(job.RunId, job.Stage, ct))
        {
            var local = Path.Combine(localRoot, $"resume-{BlobLayout.StepFolder(candidate.Step)}");
            if (Directory.Exists(local)) Directory.Delete(local, recursive: true);
            try
            {
                await store.DownloadCheckpointAsync(BlobLayout.Checkpoint(job.RunId, job.Stage, candidate.Step), local, ct);
                if (sameConfig) CheckSameConfig(job, candidate, Path.Combine(local, JobBlobs.JobFileName));
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

    /// <summary>Throws when the job file saved in a checkpoint describes another training than
    /// <paramref name="job"/> (attempt and trace aside). Checkpoints without a job file are not checked.</summary>
    public static void CheckSameConfig(StageJob job, CheckpointRef checkpoint, string savedJobFile)
    {
        if (!File.Exists(savedJobFile)) return;
        var saved = RmtJson.ParseJob(File.ReadAllText(savedJobFile), $"{checkpoint.Uri}/{JobBlobs.JobFileName}");
        var differing = ConfigDifferences(saved, job);
        if (differing.Count > 0)
            throw new ContractException(
                $"checkpoint {checkpoint.Uri} (step {checkpoint.Step}) was saved by a job with a different stage config " +
                $"({string.Join(", ", differing)} differ); resuming it would train this stage under two configs. " +
                "Submit the changed config with a new runId, or resubmit the original one");
    }

    /// <summary>Top-level job fields, other than attempt and trace, whose JSON differs.</summary>
    public static IReadOnlyList<string> ConfigDifferences(StageJob a, StageJob b) =>
        RmtJson.DifferingFields(RmtJson.Serialize(a with { Attempt = 1, TraceParent = null }), RmtJson.Serialize(b with { Attempt = 1, TraceParent = null }));

    /// <summary>Pins the dataset's hash to the run: the first stage or attempt that downloads it records its
    /// SHA-256 in runs/{runId}/datasets/; every later one must download the same bytes. A dataset that was
    /// replaced during a run fails the stage as invalid input instead of silently training on other data.</summary>
    public async Task PinDatasetAsync(string runId, LocalDataset dataset, string field, CancellationToken ct)
    {
        var pin = BlobLayout.DatasetPin(runId, dataset.BlobPath);
        var text = $"{dataset.BlobPath} sha256 {dataset.Sha256}";
        if (await store.TryCreateTextAsync(pin, text, ct)) return;
        var pinned = (await store.ReadTextAsync(pin, ct))?.Trim();
        if (pinned is not null && pinned != text)
            throw new ContractException(
                $"{field} {store.UriOf(dataset.BlobPath)} changed during run '{runId}': it hashes to {dataset.Sha256}, but {pin} pinned '{pinned}' " +
                "when the run first used it. Restore the original dataset, or submit a new run for the new data");
    }
}

/// <summary>Local copies of a stage's inputs and where it resumes (<see cref="StageInputs.PrepareAsync"/>).</summary>
public sealed record PreparedInputs(string? DatasetPath, string? EvalDatasetPath, string? BaseCheckpointDir,
    IReadOnlyList<LocalDataset> Datasets, ResumeSearch Search);

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

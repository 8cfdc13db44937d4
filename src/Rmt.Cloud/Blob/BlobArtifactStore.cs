using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>
/// The artifact store on Blob Storage (Azure or Azurite). Blob paths are "container/name"
/// (<see cref="BlobLayout"/>); the containers of <see cref="BlobLayout.Containers"/> are created on
/// first use.
///
/// <para><b>Checkpoints, and why two writers never mix.</b> A checkpoint at
/// <c>checkpoints/{runId}/{stage}/step-{n}</c> is one committed <c>manifest.json</c> plus the files
/// it lists. An upload first stages its files under a writer-unique folder
/// <c>step-{n}/{writer}/</c> (the writer token is the caller's writer name, sanitized, plus a random
/// suffix), hashing each file (SHA-256, size) on the way. Then it commits by creating
/// <c>step-{n}/manifest.json</c> with the condition If-None-Match: *, which Blob Storage grants to
/// exactly one writer. The manifest records the writer token, and readers take every file from
/// <c>step-{n}/{manifest.writer}/</c>, so a committed manifest only ever points at the files of the
/// writer that committed it. The loser of a race deletes its staged files and returns the
/// winner's manifest (its <see cref="CheckpointManifest.Writer"/> tells the caller that another
/// writer won); both hold the same step's weights, so continuing from either is correct. A writer
/// that crashes before committing leaves a staging folder without a manifest: it is never listed or
/// read (orphaned staging blobs are only storage, and are removed with the run). Uploading to a
/// step that is already committed uploads nothing and returns the existing manifest. The one
/// exception is a committed checkpoint that fails verification (its blobs were damaged):
/// <see cref="ReplaceCorruptCheckpointAsync"/> stages a fresh copy and swaps the manifest with
/// If-Match on the corrupt manifest's ETag, so the step is usable again and racing replacers still
/// agree on one winner.</para>
///
/// <para><b>Lost replies.</b> The SDK retries a request whose reply was lost; a create-only write the
/// server already applied then fails with 409/412. <see cref="TryCreateTextAsync"/> reads the blob back
/// and reports success when it holds the caller's text (a claim names host, process and time; a
/// manifest its random writer token), so a writer never mistakes its own commit for another's and
/// never deletes the files a committed manifest lists (StorageFaultTests proves it with injected faults).</para>
///
/// <para><b>Verification.</b> Downloads hash every file and compare with the manifest; a mismatch
/// names the blob URI and both hashes, a missing blob names its URI (<see cref="ArtifactException"/>).
/// Listing returns only steps whose manifest parses and validates, newest step first; the others
/// are logged and skipped.</para>
/// </summary>
public sealed class BlobArtifactStore : IArtifactStore
{
    private const int UploadParallelism = 4;
    private const int MaxWriterLength = 24;

    private readonly BlobServiceClient _service;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, bool> _containers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _appendParts = new(StringComparer.Ordinal); // log path -> part being appended to

    /// <summary>Blocks an append log part takes before the next append rolls over to a new part: the
    /// service's limit for an append blob. Tests lower it to roll over after a few appends.</summary>
    internal int AppendBlockLimit { get; init; } = 50_000;

    /// <summary>The error code of an append to a full append blob (50,000 blocks).</summary>
    private const string BlockCountExceedsLimit = "BlockCountExceedsLimit";

    public BlobArtifactStore(BlobServiceClient service, ILogger<BlobArtifactStore>? logger = null)
    {
        _service = service ?? throw new ArgumentNullException(nameof(service));
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    public Uri ServiceUri => _service.Uri;

    /// <summary>Creates the containers of <see cref="BlobLayout.Containers"/> that do not exist yet.
    /// Every operation does this on first use; hosts may call it at start to fail early.</summary>
    public Task EnsureContainersAsync(CancellationToken ct = default) =>
        Task.WhenAll(BlobLayout.Containers.Select(c => EnsureContainerAsync(c, ct)));

    public Uri UriOf(string blobPath)
    {
        var (container, name) = BlobLayout.Split(blobPath);
        return _service.GetBlobContainerClient(container).GetBlobClient(name).Uri;
    }

    // ---------------------------------------------------------------- checkpoints

    public async Task<CheckpointManifest> UploadCheckpointAsync(
        string checkpointPath, string localDir, string? writer = null, CancellationToken ct = default)
    {
        ParseCheckpointPath(checkpointPath);
        if (!Directory.Exists(localDir))
            throw new DirectoryNotFoundException($"checkpoint folder '{localDir}' does not exist; save the checkpoint there before uploading it");
        var files = LocalFiles(localDir);
        if (files.Count == 0)
            throw new ArgumentException($"checkpoint folder '{localDir}' holds no files to upload", nameof(localDir));

        await EnsureContainerAsync(BlobLayout.CheckpointsContainer, ct);
        if (await ReadManifestAsync(checkpointPath, ct) is { } existing)
        {
            // A restarted job saving a step it already saved: nothing to upload.
            _logger.LogInformation("Checkpoint {Uri} already exists (writer {Writer}); not uploading it again", UriOf(checkpointPath), existing.Writer);
            return existing;
        }
        var (manifest, writerToken, stagingPrefix) = await StageFilesAsync(checkpointPath, localDir, files, writer, ct);
        var manifestPath = ManifestPath(checkpointPath);
        if (await TryCreateTextAsync(manifestPath, RmtJson.Serialize(manifest, indented: true), ct))
        {
            _logger.LogInformation("Committed checkpoint {Uri} ({Files} files) as writer {Writer}", UriOf(checkpointPath), files.Count, writerToken);
            return manifest;
        }

        // Another writer committed first: its manifest wins and points only at its own folder.
        return await SettleLostCommitAsync(checkpointPath, writerToken, stagingPrefix, ct);
    }

    /// <summary>After a conditional manifest write failed: the manifest there now is either ours (the
    /// server applied our write and its reply was lost; TryCreateTextAsync already recognises a create,
    /// this check covers the replace) or another writer's, which wins; only then are our staged files
    /// deleted. The files a committed manifest lists are never deleted.</summary>
    private async Task<CheckpointManifest> SettleLostCommitAsync(string checkpointPath, string writerToken, string stagingPrefix, CancellationToken ct)
    {
        var winner = await ReadManifestAsync(checkpointPath, ct)
                     ?? throw new ArtifactException($"checkpoint {UriOf(checkpointPath)}: another writer committed its manifest, but it is gone now; upload again");
        if (winner.Writer == writerToken)
        {
            _logger.LogInformation("Committed checkpoint {Uri} as writer {Writer} (the reply to the commit was lost; the manifest is ours)", UriOf(checkpointPath), writerToken);
            return winner;
        }
        await DeletePrefixAsync(stagingPrefix + "/", ct);
        _logger.LogWarning("Checkpoint {Uri} was committed first by writer {Winner}; writer {Writer} discarded its copy",
            UriOf(checkpointPath), winner.Writer, writerToken);
        return winner;
    }

    public async Task<CheckpointManifest> ReplaceCorruptCheckpointAsync(
        string checkpointPath, string localDir, CheckpointManifest corrupt, string? writer = null, CancellationToken ct = default)
    {
        ParseCheckpointPath(checkpointPath);
        var files = LocalFiles(localDir);
        if (files.Count == 0)
            throw new ArgumentException($"checkpoint folder '{localDir}' holds no files to upload", nameof(localDir));
        var manifestBlob = Blob(ManifestPath(checkpointPath), out _);
        Response<BlobDownloadResult> current;
        try
        {
            current = await manifestBlob.DownloadContentAsync(ct);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return await UploadCheckpointAsync(checkpointPath, localDir, writer, ct); // nothing committed to replace
        }
        var committed = RmtJson.ParseManifest(current.Value.Content.ToString(), UriOf(ManifestPath(checkpointPath)).ToString());
        if (committed.Writer != corrupt.Writer)
        {
            _logger.LogInformation("Checkpoint {Uri} was already replaced by writer {Writer}", UriOf(checkpointPath), committed.Writer);
            return committed;
        }

        var (manifest, writerToken, stagingPrefix) = await StageFilesAsync(checkpointPath, localDir, files, writer, ct);
        var options = Upload(ContentTypeOf(BlobLayout.ManifestFileName));
        options.Conditions = new BlobRequestConditions { IfMatch = current.Value.Details.ETag };
        try
        {
            await manifestBlob.UploadAsync(BinaryData.FromString(RmtJson.Serialize(manifest, indented: true)), options, ct);
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            return await SettleLostCommitAsync(checkpointPath, writerToken, stagingPrefix, ct);
        }
        // No manifest lists the corrupt files any more.
        await DeletePrefixAsync($"{checkpointPath.TrimEnd('/')}/{corrupt.Writer}/", ct);
        _logger.LogWarning("Replaced corrupt checkpoint {Uri} (writer {Corrupt}) with writer {Writer}'s copy", UriOf(checkpointPath), corrupt.Writer, writerToken);
        return manifest;
    }

    /// <summary>Uploads the files under a fresh writer folder, hashing each, and returns the manifest
    /// that would commit them (not written yet).</summary>
    private async Task<(CheckpointManifest Manifest, string WriterToken, string StagingPrefix)> StageFilesAsync(
        string checkpointPath, string localDir, IReadOnlyList<string> files, string? writer, CancellationToken ct)
    {
        var (runId, stage, step) = ParseCheckpointPath(checkpointPath);
        var writerToken = WriterToken(writer);
        var stagingPrefix = $"{checkpointPath.TrimEnd('/')}/{writerToken}";
        var uploaded = new ConcurrentBag<ManifestFile>();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = UploadParallelism, CancellationToken = ct },
            async (relative, cancel) =>
            {
                var localFile = Path.Combine(localDir, relative.Replace('/', Path.DirectorySeparatorChar));
                var before = File.GetLastWriteTimeUtc(localFile);
                var (sha, size) = await HashFileAsync(localFile, cancel);
                await Blob($"{stagingPrefix}/{relative}", out _).UploadAsync(localFile, Upload(ContentTypeOf(relative)), cancel);
                if (File.GetLastWriteTimeUtc(localFile) != before || new FileInfo(localFile).Length != size)
                    throw new IOException($"checkpoint file '{localFile}' changed while it was uploaded; finish writing the checkpoint before uploading it");
                uploaded.Add(new ManifestFile(relative, size, sha));
            });

        var manifest = new CheckpointManifest(
            runId, stage, step, DateTimeOffset.UtcNow,
            [.. uploaded.OrderBy(f => f.Path, StringComparer.Ordinal)], writerToken);
        manifest.Validate();
        return (manifest, writerToken, stagingPrefix);
    }

    public async Task<CheckpointManifest> DownloadCheckpointAsync(string checkpointPath, string localDir, CancellationToken ct = default)
    {
        ParseCheckpointPath(checkpointPath);
        var manifest = await ReadManifestAsync(checkpointPath, ct)
                       ?? throw new ArtifactException($"checkpoint {UriOf(ManifestPath(checkpointPath))} does not exist (no manifest.json); list the stage's checkpoints to find a valid one");
        var folder = FilesFolder(checkpointPath, manifest);
        Directory.CreateDirectory(localDir);
        foreach (var file in manifest.Files)
        {
            var target = SafeLocalPath(localDir, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var blobPath = $"{folder}/{file.Path}";
            var partial = target + ".partial";
            try
            {
                await DownloadToAsync(blobPath, partial, ct);
                var (sha, size) = await HashFileAsync(partial, ct);
                if (!string.Equals(sha, file.Sha256, StringComparison.OrdinalIgnoreCase) || size != file.Size)
                    throw new ArtifactException(
                        $"blob {UriOf(blobPath)} is corrupted: expected sha256 {file.Sha256} ({file.Size} bytes), " +
                        $"got sha256 {sha} ({size} bytes); checkpoint {UriOf(checkpointPath)} cannot be used, resume from an older one");
                File.Move(partial, target, overwrite: true);
            }
            finally
            {
                File.Delete(partial);
            }
        }
        await File.WriteAllTextAsync(Path.Combine(localDir, BlobLayout.ManifestFileName), RmtJson.Serialize(manifest, indented: true), ct);
        return manifest;
    }

    public async Task<IReadOnlyList<CheckpointRef>> ListCheckpointsAsync(string runId, string stage, CancellationToken ct = default)
    {
        Validation.Id(runId, "runId");
        Validation.Id(stage, "stage");
        var prefix = BlobLayout.CheckpointPrefix(runId, stage);
        var (container, name) = BlobLayout.Split(prefix);
        await EnsureContainerAsync(container, ct);
        var steps = new List<(string Path, long Step)>();
        var options = new GetBlobsByHierarchyOptions { Delimiter = "/", Prefix = name + "/" };
        await foreach (var item in _service.GetBlobContainerClient(container).GetBlobsByHierarchyAsync(options, ct))
        {
            if (!item.IsPrefix) continue;
            var path = $"{container}/{item.Prefix.TrimEnd('/')}";
            if (BlobLayout.StepOf(path) is { } step) steps.Add((path, step));
        }

        var checks = await Task.WhenAll(steps.Select(async s => (s.Path, s.Step, Error: await CheckManifestAsync(s.Path, s.Step, runId, stage, ct))));
        foreach (var skipped in checks.Where(c => c.Error is not null))
            _logger.LogWarning("Skipping checkpoint folder {Uri}: {Reason}", UriOf(skipped.Path), skipped.Error);
        return [.. checks.Where(c => c.Error is null).OrderByDescending(c => c.Step).Select(c => new CheckpointRef(c.Path, c.Step))];
    }

    /// <summary>Null when the folder holds a committed, valid manifest of that run, stage and step;
    /// otherwise why it does not.</summary>
    private async Task<string?> CheckManifestAsync(string checkpointPath, long step, string runId, string stage, CancellationToken ct)
    {
        try
        {
            var manifest = await ReadManifestAsync(checkpointPath, ct);
            if (manifest is null) return "no manifest.json (half-written or abandoned)";
            if (manifest.RunId != runId || manifest.Stage != stage || manifest.Step != step)
                return $"its manifest describes {manifest.RunId}/{manifest.Stage}/step-{manifest.Step}";
            return null;
        }
        catch (ArtifactException e)
        {
            return e.Message;
        }
    }

    private async Task<CheckpointManifest?> ReadManifestAsync(string checkpointPath, CancellationToken ct)
    {
        var manifestPath = ManifestPath(checkpointPath);
        var json = await ReadTextAsync(manifestPath, ct);
        if (json is null) return null;
        try
        {
            var manifest = RmtJson.ParseManifest(json, UriOf(manifestPath).ToString());
            if (string.IsNullOrEmpty(manifest.Writer) || !IsSegment(manifest.Writer))
                throw new ContractException($"{UriOf(manifestPath)}: writer '{manifest.Writer}' does not name the folder holding the files");
            return manifest;
        }
        catch (ContractException e)
        {
            throw new ArtifactException($"checkpoint manifest {UriOf(manifestPath)} is invalid: {e.Message}", e);
        }
    }

    private static string ManifestPath(string checkpointPath) => $"{checkpointPath.TrimEnd('/')}/{BlobLayout.ManifestFileName}";

    private static string FilesFolder(string checkpointPath, CheckpointManifest manifest) => $"{checkpointPath.TrimEnd('/')}/{manifest.Writer}";

    private static (string RunId, string Stage, long Step) ParseCheckpointPath(string checkpointPath)
    {
        BlobLayout.Validate(checkpointPath, "checkpoint path");
        var parts = checkpointPath.TrimEnd('/').Split('/');
        var step = BlobLayout.StepOf(checkpointPath);
        if (parts.Length != 4 || parts[0] != BlobLayout.CheckpointsContainer || step is null
            || !Validation.IsId(parts[1]) || !Validation.IsId(parts[2]))
            throw new ArgumentException(
                $"'{checkpointPath}' is not a checkpoint path; use BlobLayout.Checkpoint(runId, stage, step), e.g. \"checkpoints/run-1/mid-train/step-100\"",
                nameof(checkpointPath));
        return (parts[1], parts[2], step.Value);
    }

    /// <summary>The writer's folder name: its sanitized name (or "w") plus 8 random hex digits, so
    /// two writers that pass the same name still stage apart.</summary>
    private static string WriterToken(string? writer)
    {
        var clean = new StringBuilder();
        foreach (var c in (writer ?? "w").ToLowerInvariant())
        {
            var ok = c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
            if (ok) clean.Append(c);
            else if (clean.Length > 0 && clean[^1] != '-') clean.Append('-');
            if (clean.Length >= MaxWriterLength) break;
        }
        var name = clean.ToString().Trim('-');
        return $"{(name.Length == 0 ? "w" : name)}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
    }

    private static bool IsSegment(string value) =>
        value.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') && value != BlobLayout.ManifestFileName;

    /// <summary>Relative paths ('/'-separated, ordinal order) of the files under a folder; a
    /// top-level manifest.json (from an earlier download) is left out, the store writes its own.</summary>
    private static List<string> LocalFiles(string localDir)
    {
        var root = Path.GetFullPath(localDir);
        return [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => f != BlobLayout.ManifestFileName)
            .OrderBy(f => f, StringComparer.Ordinal)];
    }

    private static string SafeLocalPath(string localDir, string relative)
    {
        var root = Path.GetFullPath(localDir);
        var full = Path.GetFullPath(Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar)));
        if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArtifactException($"manifest file path '{relative}' leaves the checkpoint folder; the manifest is not trustworthy");
        return full;
    }

    private static async Task<(string Sha256, long Size)> HashFileAsync(string path, CancellationToken ct) =>
        (await FileHash.Sha256Async(path, ct), new FileInfo(path).Length);

    // ---------------------------------------------------------------- single blobs

    public async Task UploadFileAsync(string blobPath, string localFile, CancellationToken ct = default)
    {
        var blob = Blob(blobPath, out var container);
        await EnsureContainerAsync(container, ct);
        await blob.UploadAsync(localFile, Upload(ContentTypeOf(blobPath)), ct);
    }

    public async Task DownloadFileAsync(string blobPath, string localFile, CancellationToken ct = default)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(localFile));
        if (directory is not null) Directory.CreateDirectory(directory);
        await DownloadToAsync(blobPath, localFile, ct);
    }

    private async Task DownloadToAsync(string blobPath, string localFile, CancellationToken ct)
    {
        var blob = Blob(blobPath, out var container);
        await EnsureContainerAsync(container, ct);
        try
        {
            await blob.DownloadToAsync(localFile, ct);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            File.Delete(localFile);
            throw new ArtifactException($"blob {blob.Uri} is missing ({e.ErrorCode}); check the path or upload it first", e);
        }
    }

    public async Task WriteTextAsync(string blobPath, string text, CancellationToken ct = default)
    {
        var blob = Blob(blobPath, out var container);
        await EnsureContainerAsync(container, ct);
        await blob.UploadAsync(BinaryData.FromString(text), Upload(ContentTypeOf(blobPath)), ct);
    }

    public async Task<string?> ReadTextAsync(string blobPath, CancellationToken ct = default)
    {
        var blob = Blob(blobPath, out var container);
        await EnsureContainerAsync(container, ct);
        try
        {
            return (await blob.DownloadContentAsync(ct)).Value.Content.ToString();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<bool> TryCreateTextAsync(string blobPath, string text, CancellationToken ct = default)
    {
        var blob = Blob(blobPath, out var container);
        await EnsureContainerAsync(container, ct);
        var options = Upload(ContentTypeOf(blobPath));
        options.Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All };
        try
        {
            await blob.UploadAsync(BinaryData.FromString(text), options, ct);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            // Either another writer was first, or this very write was applied and its reply lost, so
            // the SDK's retry found the blob: the text tells which (callers write unique text).
            return await ReadTextAsync(blobPath, ct) == text;
        }
    }

    public async Task AppendLinesAsync(string blobPath, IReadOnlyList<string> lines, CancellationToken ct = default)
    {
        if (lines.Count == 0) return;
        var (container, _) = BlobLayout.Split(blobPath);
        await EnsureContainerAsync(container, ct);
        var part = _appendParts.TryGetValue(blobPath, out var known) ? known : await FindAppendPartAsync(blobPath, ct);
        var blob = await OpenAppendPartAsync(blobPath, part, ct);

        // One append block per chunk of whole lines, so a reader never sees half a line.
        var maxBlock = blob.AppendBlobMaxAppendBlockBytes;
        var chunk = new MemoryStream();
        foreach (var line in lines)
        {
            if (line.Contains('\n', StringComparison.Ordinal))
                throw new ArgumentException($"line to append to {blobPath} contains a newline; append one JSON document per line", nameof(lines));
            var bytes = Encoding.UTF8.GetBytes(line + "\n");
            if (bytes.Length > maxBlock)
                throw new ArgumentException($"a line of {bytes.Length} bytes exceeds the append block limit of {maxBlock} bytes ({blobPath})", nameof(lines));
            if (chunk.Length + bytes.Length > maxBlock) await FlushAsync();
            chunk.Write(bytes);
        }
        await FlushAsync();

        async Task FlushAsync()
        {
            if (chunk.Length == 0) return;
            while (true)
            {
                chunk.Position = 0;
                try
                {
                    var appended = await blob.AppendBlockAsync(chunk, cancellationToken: ct);
                    if (appended.Value.BlobCommittedBlockCount >= AppendBlockLimit) // full: the next block starts the next part
                        _appendParts[blobPath] = part + 1;
                    break;
                }
                catch (RequestFailedException e) when (e.ErrorCode == BlockCountExceedsLimit)
                {
                    // Another writer (or process) filled this part: move on to the next one.
                }
                part++;
                _appendParts[blobPath] = part;
                blob = await OpenAppendPartAsync(blobPath, part, ct);
            }
            chunk = new MemoryStream();
        }
    }

    public async Task<string?> ReadAppendLogAsync(string blobPath, CancellationToken ct = default)
    {
        var parts = await ListAppendPartsAsync(blobPath, ct);
        if (parts.Count == 0) return null;
        var text = new StringBuilder();
        foreach (var (_, path) in parts)
            text.Append(await ReadTextAsync(path, ct));
        return text.ToString();
    }

    /// <summary>The existing parts of an append log, in part order.</summary>
    private async Task<List<(int Part, string Path)>> ListAppendPartsAsync(string logPath, CancellationToken ct)
    {
        var dot = logPath.LastIndexOf('.');
        var prefix = dot > logPath.LastIndexOf('/') ? logPath[..(dot + 1)] : logPath; // "runs/r/events." lists every part
        return [.. (await ListAsync(prefix, ct))
            .Select(p => (Part: BlobLayout.AppendLogPartOf(logPath, p), Path: p))
            .Where(p => p.Part is not null)
            .Select(p => (p.Part!.Value, p.Path))
            .OrderBy(p => p.Item1)];
    }

    /// <summary>The part a writer that does not know the log yet appends to: the last one, or the one after
    /// it when that is full (a writer before this process filled it).</summary>
    private async Task<int> FindAppendPartAsync(string logPath, CancellationToken ct)
    {
        var parts = await ListAppendPartsAsync(logPath, ct);
        if (parts.Count == 0) return 0;
        var (last, path) = parts[^1];
        var (container, name) = BlobLayout.Split(path);
        var properties = await _service.GetBlobContainerClient(container).GetAppendBlobClient(name).GetPropertiesAsync(cancellationToken: ct);
        return properties.Value.BlobCommittedBlockCount >= AppendBlockLimit ? last + 1 : last;
    }

    private async Task<AppendBlobClient> OpenAppendPartAsync(string logPath, int part, CancellationToken ct)
    {
        var (container, name) = BlobLayout.Split(BlobLayout.AppendLogPart(logPath, part));
        var blob = _service.GetBlobContainerClient(container).GetAppendBlobClient(name);
        await blob.CreateIfNotExistsAsync(new AppendBlobCreateOptions { HttpHeaders = new BlobHttpHeaders { ContentType = ContentTypeOf(logPath) } }, ct);
        _appendParts[logPath] = part;
        return blob;
    }

    public async Task<bool> ExistsAsync(string blobPath, CancellationToken ct = default)
    {
        var blob = Blob(blobPath, out var container);
        await EnsureContainerAsync(container, ct);
        return (await blob.ExistsAsync(ct)).Value;
    }

    /// <summary>Accepts "container", "container/" or "container/name-prefix".</summary>
    public async Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default)
    {
        var slash = prefix.IndexOf('/', StringComparison.Ordinal);
        var container = slash < 0 ? prefix : prefix[..slash];
        var name = slash < 0 ? "" : prefix[(slash + 1)..];
        if (!BlobLayout.Containers.Contains(container) || prefix.Contains("..", StringComparison.Ordinal))
            throw new ArgumentException(
                $"prefix '{prefix}' is not a blob prefix; write \"container/name-prefix\" with container one of {string.Join(", ", BlobLayout.Containers)}",
                nameof(prefix));
        await EnsureContainerAsync(container, ct);
        var result = new List<string>();
        await foreach (var item in _service.GetBlobContainerClient(container).GetBlobsAsync(new GetBlobsOptions { Prefix = name }, ct))
            result.Add($"{container}/{item.Name}");
        return result;
    }

    private async Task DeletePrefixAsync(string blobPrefix, CancellationToken ct)
    {
        foreach (var path in await ListAsync(blobPrefix, ct))
            await Blob(path, out _).DeleteIfExistsAsync(cancellationToken: ct);
    }

    // ---------------------------------------------------------------- helpers

    private BlobClient Blob(string blobPath, out string container)
    {
        (container, var name) = BlobLayout.Split(blobPath);
        return _service.GetBlobContainerClient(container).GetBlobClient(name);
    }

    private async Task EnsureContainerAsync(string container, CancellationToken ct)
    {
        if (_containers.ContainsKey(container)) return;
        await CreateContainerAsync(container, ct); // idempotent, so racing callers are harmless
        _containers.TryAdd(container, true);
    }

    private async Task CreateContainerAsync(string container, CancellationToken ct)
    {
        try
        {
            await _service.GetBlobContainerClient(container).CreateIfNotExistsAsync(cancellationToken: ct);
        }
        catch (RequestFailedException e) when (e.Status == 403)
        {
            // A read-only identity (the trainer holds Storage Blob Data Reader on datasets) may not
            // create containers; the container exists in Azure (Bicep), and a read of a missing one
            // says "missing", a write says "forbidden".
            _logger.LogDebug("not allowed to create blob container {Container} ({ErrorCode}); using it as it is", container, e.ErrorCode);
        }
        catch (RequestFailedException e)
        {
            throw new ArtifactException($"could not create blob container {_service.Uri}{container} ({e.Status} {e.ErrorCode}); check the storage endpoint and the identity's 'Storage Blob Data Contributor' role", e);
        }
    }

    private static BlobUploadOptions Upload(string contentType) => new() { HttpHeaders = new BlobHttpHeaders { ContentType = contentType } };

    private static string ContentTypeOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".json" => "application/json",
        ".jsonl" => "application/x-ndjson",
        ".md" => "text/markdown; charset=utf-8",
        ".txt" => "text/plain; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}

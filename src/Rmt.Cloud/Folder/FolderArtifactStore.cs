using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>A blob path served from a local file or folder instead of the store's root: an input a
/// person names on the command line (a corpus, a checkpoint folder), or where a stage's outputs should
/// land. <see cref="BlobPath"/> covers itself and everything under it.</summary>
public sealed record FolderMount(string BlobPath, string LocalPath);

/// <summary>The artifact store on local folders, so that a stage run from a terminal (`train`, `eval`,
/// the experiments) goes through the same <c>JobRunner</c> as the container job. Blob path
/// "container/name" is the file {root}/container/name, unless a <see cref="FolderMount"/> covers it (the
/// longest mount wins). A checkpoint is a plain folder: its files, then manifest.json written last
/// (create-only, so the first complete checkpoint of a step stays); a folder without a valid manifest
/// is not listed. A mounted checkpoint folder without a manifest (one a person brought, e.g. a
/// Hugging Face download) is taken as it is, and the log says it was not verified. One process owns
/// the folder: the race protection of <see cref="BlobArtifactStore"/> is not needed here.</summary>
public sealed class FolderArtifactStore : IArtifactStore
{
    private readonly string _root;
    private readonly IReadOnlyList<FolderMount> _mounts;
    private readonly ILogger _logger;

    public FolderArtifactStore(string root, IEnumerable<FolderMount>? mounts = null, ILogger? logger = null)
    {
        _root = Path.GetFullPath(root);
        _mounts = (mounts ?? []).Select(m => m with { BlobPath = m.BlobPath.TrimEnd('/'), LocalPath = Path.GetFullPath(m.LocalPath) })
            .OrderByDescending(m => m.BlobPath.Length).ToList();
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The local file or folder of a blob path.</summary>
    public string PathOf(string blobPath)
    {
        BlobLayout.Validate(blobPath, "blob path");
        var path = blobPath.TrimEnd('/');
        foreach (var mount in _mounts)
        {
            if (path == mount.BlobPath) return mount.LocalPath;
            if (path.StartsWith(mount.BlobPath + "/", StringComparison.Ordinal))
                return Path.Combine(mount.LocalPath, Local(path[(mount.BlobPath.Length + 1)..]));
        }
        return Path.Combine(_root, Local(path));
    }

    public Uri UriOf(string blobPath) => new(PathOf(blobPath));

    // ---------------------------------------------------------------- checkpoints

    public async Task<CheckpointManifest> UploadCheckpointAsync(string checkpointPath, string localDir, string? writer = null, CancellationToken ct = default)
    {
        var dir = PathOf(checkpointPath);
        if (ReadManifest(dir) is { } existing) return existing; // never overwritten; the caller compares
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); // an unfinished earlier copy
        return await CopyInAsync(checkpointPath, dir, localDir, writer, ct);
    }

    public async Task<CheckpointManifest> ReplaceCorruptCheckpointAsync(
        string checkpointPath, string localDir, CheckpointManifest corrupt, string? writer = null, CancellationToken ct = default)
    {
        var dir = PathOf(checkpointPath);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        return await CopyInAsync(checkpointPath, dir, localDir, writer, ct);
    }

    public async Task<CheckpointManifest> DownloadCheckpointAsync(string checkpointPath, string localDir, CancellationToken ct = default)
    {
        var dir = PathOf(checkpointPath);
        if (!Directory.Exists(dir)) throw new ArtifactException($"checkpoint {dir} does not exist");
        var manifestFile = Path.Combine(dir, BlobLayout.ManifestFileName);
        if (!File.Exists(manifestFile) && IsMounted(checkpointPath))
        {
            _logger.LogWarning("checkpoint folder {Dir} has no {Manifest}; using it as it is, unverified", dir, BlobLayout.ManifestFileName);
            var (runId, stage, step) = Describe(checkpointPath);
            return new CheckpointManifest(runId, stage, step, DateTimeOffset.UtcNow, await CopyFilesAsync(dir, localDir, ct), "unverified local folder");
        }
        var manifest = ReadManifest(dir) ?? throw new ArtifactException($"checkpoint {dir} has no valid {BlobLayout.ManifestFileName} (the save did not finish)");
        Directory.CreateDirectory(localDir);
        foreach (var file in manifest.Files)
        {
            var source = Path.Combine(dir, Local(file.Path));
            if (!File.Exists(source)) throw new ArtifactException($"checkpoint file {source} is missing");
            var target = Path.Combine(localDir, Local(file.Path));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target, overwrite: true);
            var sha = await FileHash.Sha256Async(target, ct);
            if (!string.Equals(sha, file.Sha256, StringComparison.OrdinalIgnoreCase))
                throw new ArtifactException($"checkpoint file {source} hashes to {sha} but its manifest says {file.Sha256}; the checkpoint is corrupted");
        }
        return manifest;
    }

    public Task<IReadOnlyList<CheckpointRef>> ListCheckpointsAsync(string runId, string stage, CancellationToken ct = default)
    {
        var prefix = BlobLayout.CheckpointPrefix(runId, stage);
        var dir = PathOf(prefix);
        IReadOnlyList<CheckpointRef> found = !Directory.Exists(dir) ? [] : Directory.GetDirectories(dir)
            .Select(d => (Dir: d, Step: BlobLayout.StepOf(Path.GetFileName(d))))
            .Where(c => c.Step is not null && ReadManifest(c.Dir) is { } m && m.RunId == runId && m.Stage == stage && m.Step == c.Step)
            .OrderByDescending(c => c.Step)
            .Select(c => new CheckpointRef(BlobLayout.Checkpoint(runId, stage, c.Step!.Value), c.Step!.Value))
            .ToList();
        return Task.FromResult(found);
    }

    private async Task<CheckpointManifest> CopyInAsync(string checkpointPath, string dir, string localDir, string? writer, CancellationToken ct)
    {
        var (runId, stage, step) = Describe(checkpointPath);
        var files = await CopyFilesAsync(localDir, dir, ct);
        var manifest = new CheckpointManifest(runId, stage, step, DateTimeOffset.UtcNow, files, writer);
        await using (var stream = new FileStream(Path.Combine(dir, BlobLayout.ManifestFileName), FileMode.CreateNew))
        await using (var text = new StreamWriter(stream))
            await text.WriteAsync(RmtJson.Serialize(manifest, indented: true));
        return manifest;
    }

    /// <summary>Copies every file of <paramref name="from"/> but a manifest, and hashes each copy.</summary>
    private static async Task<List<ManifestFile>> CopyFilesAsync(string from, string to, CancellationToken ct)
    {
        var files = new List<ManifestFile>();
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(from, file).Replace('\\', '/');
            if (relative == BlobLayout.ManifestFileName) continue;
            var target = Path.Combine(to, Local(relative));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
            files.Add(new ManifestFile(relative, new FileInfo(target).Length, await FileHash.Sha256Async(target, ct)));
        }
        return files;
    }

    private static CheckpointManifest? ReadManifest(string dir)
    {
        var path = Path.Combine(dir, BlobLayout.ManifestFileName);
        if (!File.Exists(path)) return null;
        try
        {
            return RmtJson.ParseManifest(File.ReadAllText(path), path);
        }
        catch (ContractException)
        {
            return null;
        }
    }

    private bool IsMounted(string blobPath) =>
        _mounts.Any(m => blobPath.TrimEnd('/') == m.BlobPath || blobPath.StartsWith(m.BlobPath + "/", StringComparison.Ordinal));

    /// <summary>Run, stage and step of checkpoints/{runId}/{stage}/step-{n}.</summary>
    private static (string RunId, string Stage, long Step) Describe(string checkpointPath)
    {
        var parts = checkpointPath.TrimEnd('/').Split('/');
        return parts.Length == 4 && parts[0] == BlobLayout.CheckpointsContainer && BlobLayout.StepOf(parts[3]) is { } step
            ? (parts[1], parts[2], step)
            : throw new ArtifactException($"'{checkpointPath}' is not a checkpoint path (checkpoints/{{runId}}/{{stage}}/step-{{n}})");
    }

    // ---------------------------------------------------------------- single files and logs

    public Task UploadFileAsync(string blobPath, string localFile, CancellationToken ct = default)
    {
        var target = PathOf(blobPath);
        if (!string.Equals(Path.GetFullPath(localFile), target, StringComparison.Ordinal))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(localFile, target, overwrite: true);
        }
        return Task.CompletedTask;
    }

    public Task DownloadFileAsync(string blobPath, string localFile, CancellationToken ct = default)
    {
        var source = PathOf(blobPath);
        if (!File.Exists(source)) throw new ArtifactException($"{source} does not exist");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(localFile))!);
        File.Copy(source, localFile, overwrite: true);
        return Task.CompletedTask;
    }

    public async Task WriteTextAsync(string blobPath, string text, CancellationToken ct = default)
    {
        var target = PathOf(blobPath);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await File.WriteAllTextAsync(target, text, ct);
    }

    public async Task<string?> ReadTextAsync(string blobPath, CancellationToken ct = default)
    {
        var path = PathOf(blobPath);
        return File.Exists(path) ? await File.ReadAllTextAsync(path, ct) : null;
    }

    public async Task<bool> TryCreateTextAsync(string blobPath, string text, CancellationToken ct = default)
    {
        var target = PathOf(blobPath);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        try
        {
            await using var stream = new FileStream(target, FileMode.CreateNew);
            await using var writer = new StreamWriter(stream);
            await writer.WriteAsync(text);
            return true;
        }
        catch (IOException) when (File.Exists(target))
        {
            return await File.ReadAllTextAsync(target, ct) == text;
        }
    }

    /// <summary>One file per log: a local file has no block limit, so the log never rolls over to parts.</summary>
    public async Task AppendLinesAsync(string blobPath, IReadOnlyList<string> lines, CancellationToken ct = default)
    {
        var target = PathOf(blobPath);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await File.AppendAllTextAsync(target, string.Concat(lines.Select(l => l + "\n")), ct);
    }

    public Task<string?> ReadAppendLogAsync(string blobPath, CancellationToken ct = default) => ReadTextAsync(blobPath, ct);

    public Task<bool> ExistsAsync(string blobPath, CancellationToken ct = default) => Task.FromResult(File.Exists(PathOf(blobPath)));

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default)
    {
        // The folder holding the prefix; its files whose blob path starts with the prefix.
        var folderPath = prefix.EndsWith('/') ? prefix.TrimEnd('/') : prefix[..Math.Max(prefix.LastIndexOf('/'), 0)];
        var folder = PathOf(folderPath);
        IReadOnlyList<string> found = !Directory.Exists(folder) ? [] : Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => $"{folderPath}/{Path.GetRelativePath(folder, f).Replace('\\', '/')}")
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(found);
    }

    private static string Local(string relative) => relative.Replace('/', Path.DirectorySeparatorChar);
}

using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline.Tests.Fakes;

/// <summary>IArtifactStore over a dictionary, with the contract of the Blob implementation: blob paths
/// are validated, create-if-absent is atomic, append blobs grow, checkpoints are listed only when their
/// manifest exists, downloads of missing blobs throw ArtifactException naming the URI.</summary>
public sealed class InMemoryArtifactStore : IArtifactStore
{
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);
    private readonly Lock _appendLock = new();

    public IReadOnlyCollection<string> Paths => _blobs.Keys.ToList();

    public async Task<CheckpointManifest> UploadCheckpointAsync(string checkpointPath, string localDir, string? writer = null, CancellationToken ct = default)
    {
        var (runId, stage) = RunAndStageOf(checkpointPath);
        var files = new List<ManifestFile>();
        foreach (var file in Directory.GetFiles(localDir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(localDir, file).Replace('\\', '/');
            var bytes = await File.ReadAllBytesAsync(file, ct);
            _blobs[Key($"{checkpointPath}/{relative}")] = bytes;
            files.Add(new ManifestFile(relative, bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes))));
        }
        var manifest = new CheckpointManifest(runId, stage, BlobLayout.StepOf(checkpointPath) ?? 0, DateTimeOffset.UnixEpoch, files, writer);
        manifest.Validate();
        _blobs[Key($"{checkpointPath}/{BlobLayout.ManifestFileName}")] = Encoding.UTF8.GetBytes(RmtJson.Serialize(manifest));
        return manifest;
    }

    public async Task<CheckpointManifest> DownloadCheckpointAsync(string checkpointPath, string localDir, CancellationToken ct = default)
    {
        var manifestPath = $"{checkpointPath}/{BlobLayout.ManifestFileName}";
        var json = await ReadTextAsync(manifestPath, ct) ?? throw new ArtifactException($"checkpoint manifest {UriOf(manifestPath)} does not exist");
        var manifest = RmtJson.ParseManifest(json, manifestPath);
        Directory.CreateDirectory(localDir);
        foreach (var file in manifest.Files)
        {
            var blob = $"{checkpointPath}/{file.Path}";
            var bytes = _blobs.TryGetValue(Key(blob), out var b) ? b : throw new ArtifactException($"checkpoint file {UriOf(blob)} is missing");
            if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != file.Sha256)
                throw new ArtifactException($"checkpoint file {UriOf(blob)} does not match its manifest hash");
            var local = Path.Combine(localDir, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await File.WriteAllBytesAsync(local, bytes, ct);
        }
        return manifest;
    }

    public async Task<IReadOnlyList<CheckpointRef>> ListCheckpointsAsync(string runId, string stage, CancellationToken ct = default)
    {
        var prefix = BlobLayout.CheckpointPrefix(runId, stage) + "/";
        var refs = new List<CheckpointRef>();
        foreach (var path in await ListAsync(prefix, ct))
        {
            if (!path.EndsWith("/" + BlobLayout.ManifestFileName, StringComparison.Ordinal)) continue;
            var folder = path[..path.LastIndexOf('/')];
            if (BlobLayout.StepOf(folder) is { } step) refs.Add(new CheckpointRef(folder, step));
        }
        return refs.OrderByDescending(r => r.Step).ToList();
    }

    public async Task UploadFileAsync(string blobPath, string localFile, CancellationToken ct = default) =>
        _blobs[Key(blobPath)] = await File.ReadAllBytesAsync(localFile, ct);

    public async Task DownloadFileAsync(string blobPath, string localFile, CancellationToken ct = default)
    {
        var bytes = _blobs.TryGetValue(Key(blobPath), out var b) ? b : throw new ArtifactException($"blob {UriOf(blobPath)} does not exist");
        await File.WriteAllBytesAsync(localFile, bytes, ct);
    }

    public Task WriteTextAsync(string blobPath, string text, CancellationToken ct = default)
    {
        _blobs[Key(blobPath)] = Encoding.UTF8.GetBytes(text);
        return Task.CompletedTask;
    }

    public Task<string?> ReadTextAsync(string blobPath, CancellationToken ct = default) =>
        Task.FromResult(_blobs.TryGetValue(Key(blobPath), out var b) ? Encoding.UTF8.GetString(b) : null);

    public Task<bool> TryCreateTextAsync(string blobPath, string text, CancellationToken ct = default) =>
        Task.FromResult(_blobs.TryAdd(Key(blobPath), Encoding.UTF8.GetBytes(text)));

    public Task AppendLinesAsync(string blobPath, IReadOnlyList<string> lines, CancellationToken ct = default)
    {
        var key = Key(blobPath);
        var added = Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")));
        lock (_appendLock)
            _blobs[key] = _blobs.TryGetValue(key, out var old) ? [.. old, .. added] : added;
        return Task.CompletedTask;
    }

    public Task<bool> ExistsAsync(string blobPath, CancellationToken ct = default) => Task.FromResult(_blobs.ContainsKey(Key(blobPath)));

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<string>>(_blobs.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList());

    public Uri UriOf(string blobPath) => new($"memory://{AzuriteNames.Account}/{blobPath}");

    private static string Key(string blobPath)
    {
        BlobLayout.Validate(blobPath, "blob path");
        return blobPath;
    }

    private static (string RunId, string Stage) RunAndStageOf(string checkpointPath)
    {
        var parts = checkpointPath.Split('/');
        return parts.Length >= 4 ? (parts[1], parts[2]) : throw new ArtifactException($"'{checkpointPath}' is not checkpoints/{{runId}}/{{stage}}/step-{{n}}");
    }

    private static class AzuriteNames
    {
        public const string Account = "test";
    }
}

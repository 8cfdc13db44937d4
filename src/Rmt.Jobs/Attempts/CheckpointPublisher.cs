using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs.Attempts;

/// <summary>Saves an attempt's checkpoints: the executor writes the folder, the job file goes in beside
/// it, the store commits it with its manifest, and 'checkpoint-saved' is published. A step that an
/// earlier attempt already committed keeps that checkpoint when it verifies and is replaced when it is
/// corrupted. A superseded attempt saves nothing (its successor may be resuming from the same steps).</summary>
internal sealed class CheckpointPublisher(
    IArtifactStore store, StageJob job, string workDir, string writer, AttemptMarkers markers, JobStopSignal stop,
    StageEventPublisher events, ILogger logger)
{
    private string? _lastLocal;

    /// <summary>The newest checkpoint of the stage: the resume point, then each one saved.</summary>
    public CheckpointRef? Last { get; set; }

    /// <summary>Saves step <paramref name="step"/> unless it is already the newest checkpoint.</summary>
    public async Task SaveOnceAsync(long step, CheckpointWriter write, CancellationToken ct)
    {
        if (Last?.Step != step) await SaveAsync(step, write, ct);
    }

    public async Task SaveAsync(long step, CheckpointWriter write, CancellationToken ct)
    {
        if (await markers.IsSupersededAsync(ct))
            throw new StageStoppedException($"{stop.Detail}; stopped at step {step} without saving a checkpoint");
        using var span = JobTelemetry.StartCheckpoint(job, step);
        var local = Path.Combine(workDir, "checkpoints", BlobLayout.StepFolder(step));
        Folders.Recreate(local);
        write(local);
        await File.WriteAllTextAsync(Path.Combine(local, JobBlobs.JobFileName), RmtJson.Serialize(job, indented: true), ct);
        var path = BlobLayout.Checkpoint(job.RunId, job.Stage, step);
        var manifest = await store.UploadCheckpointAsync(path, local, writer, ct);
        if (!await SameFilesAsync(manifest, local, ct) && !await ExistingVerifiesAsync(path, step, manifest, ct))
            manifest = await store.ReplaceCorruptCheckpointAsync(path, local, manifest, writer, ct);
        Last = new CheckpointRef(path, step);
        logger.LogInformation("checkpoint step {Step} uploaded to {Path} ({Files} files)", step, path, manifest.Files.Count);
        await events.CheckpointSavedAsync(Last, ct);
        if (_lastLocal is not null && _lastLocal != local) Folders.TryDelete(_lastLocal, logger);
        _lastLocal = local;
    }

    /// <summary>Whether the committed manifest lists exactly the files of <paramref name="local"/>.
    /// Not so when an earlier attempt already committed this step (checkpoints are never overwritten).</summary>
    private static async Task<bool> SameFilesAsync(CheckpointManifest manifest, string local, CancellationToken ct)
    {
        var files = Directory.GetFiles(local, "*", SearchOption.AllDirectories);
        if (files.Length != manifest.Files.Count) return false;
        var expected = manifest.Files.ToDictionary(f => f.Path, f => f.Sha256, StringComparer.Ordinal);
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(local, file).Replace('\\', '/');
            if (!expected.TryGetValue(relative, out var sha)) return false;
            if (!string.Equals(await FileHash.Sha256Async(file, ct), sha, StringComparison.OrdinalIgnoreCase)) return false;
        }
        return true;
    }

    /// <summary>An earlier attempt committed this step first. Keep its checkpoint if it verifies; if it
    /// is corrupted (the reason this attempt fell back past it), the caller replaces it, so the step,
    /// often the stage's final one, is usable again.</summary>
    private async Task<bool> ExistingVerifiesAsync(string path, long step, CheckpointManifest existing, CancellationToken ct)
    {
        var probe = Path.Combine(workDir, "checkpoints", $"existing-{BlobLayout.StepFolder(step)}");
        try
        {
            await store.DownloadCheckpointAsync(path, probe, ct);
            logger.LogInformation("checkpoint step {Step} already existed at {Path} (writer {Writer}) and verifies; keeping it", step, path, existing.Writer);
            return true;
        }
        catch (ArtifactException e)
        {
            logger.LogWarning("checkpoint step {Step} at {Path} was committed earlier by writer {Writer} and is corrupted; replacing it with this attempt's copy ({Error})",
                step, path, existing.Writer, e.Message);
            return false;
        }
        finally
        {
            Folders.TryDelete(probe, logger);
        }
    }
}

/// <summary>Scratch folders of an attempt.</summary>
internal static class Folders
{
    /// <summary>An empty folder at <paramref name="dir"/> (whatever was there is deleted).</summary>
    public static void Recreate(string dir)
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
    }

    public static void TryDelete(string dir, ILogger logger)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException e)
        {
            logger.LogDebug("could not delete {Dir}: {Error}", dir, e.Message);
        }
    }
}

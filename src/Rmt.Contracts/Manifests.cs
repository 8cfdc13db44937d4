namespace Rmt.Contracts;

/// <summary>One file of an artifact folder, with what it must hash to.</summary>
public sealed record ManifestFile(string Path, long Size, string Sha256);

/// <summary>Written last into a checkpoint folder: a checkpoint without a valid manifest does not exist.</summary>
public sealed record CheckpointManifest(
    string RunId,
    string Stage,
    long Step,
    DateTimeOffset CreatedAt,
    IReadOnlyList<ManifestFile> Files,
    string? Writer = null,               // who wrote it (job attempt id), to diagnose races
    int SchemaVersion = SchemaVersions.Current)
{
    public void Validate()
    {
        SchemaVersions.Check(SchemaVersion, "checkpoint manifest");
        Validation.Id(RunId, "runId");
        Validation.Id(Stage, "stage");
        Validation.Range(Step, 0, long.MaxValue, "step");
        if (Files is null || Files.Count == 0)
            throw new ContractException("checkpoint manifest lists no files");
        foreach (var file in Files)
        {
            Validation.NotEmpty(file.Path, "files[].path");
            if (file.Sha256 is null || file.Sha256.Length != 64)
                throw new ContractException($"checkpoint manifest: file '{file.Path}' has no valid sha256 (64 hex digits)");
        }
    }
}

/// <summary>What a pipeline run produced: its stages and their final checkpoints and reports.</summary>
public sealed record RunManifest(
    string RunId,
    DateTimeOffset CreatedAt,
    IReadOnlyList<RunStageRecord> Stages,
    IReadOnlyList<ManifestFile> Files,
    int SchemaVersion = SchemaVersions.Current);

public sealed record RunStageRecord(
    string Stage,
    StageKind Kind,
    int Attempts,
    string Status,                       // completed, failed, cancelled
    CheckpointRef? Checkpoint = null,
    string? ReportUri = null,
    IReadOnlyDictionary<string, double>? Metrics = null);

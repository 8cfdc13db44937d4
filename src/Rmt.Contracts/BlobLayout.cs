using System.Globalization;

namespace Rmt.Contracts;

/// <summary>Where everything lives in Blob Storage (DESIGN.md section 4). A blob path is
/// "container/name": the same string works against Azurite and Azure.</summary>
public static class BlobLayout
{
    public const string DatasetsContainer = "datasets";
    public const string CheckpointsContainer = "checkpoints";
    public const string RunsContainer = "runs";
    public static readonly IReadOnlyList<string> Containers = [DatasetsContainer, CheckpointsContainer, RunsContainer];

    public const string ManifestFileName = "manifest.json";
    private const string StepPrefix = "step-";

    public static string Dataset(string name, string file) => $"{DatasetsContainer}/{name}/{file}";

    /// <summary>checkpoints/{runId}/{stage}: the prefix under which a stage's checkpoints live.</summary>
    public static string CheckpointPrefix(string runId, string stage) => $"{CheckpointsContainer}/{runId}/{stage}";

    /// <summary>checkpoints/{runId}/{stage}/step-{n}</summary>
    public static string Checkpoint(string runId, string stage, long step) => $"{CheckpointPrefix(runId, stage)}/{StepFolder(step)}";

    /// <summary>"step-{n}": the name of a checkpoint folder, in Blob Storage and on disk alike (<see cref="StepOf"/> reads it back).</summary>
    public static string StepFolder(long step) => $"{StepPrefix}{step.ToString(CultureInfo.InvariantCulture)}";

    public static string Run(string runId) => $"{RunsContainer}/{runId}";
    public static string RunRequest(string runId) => $"{Run(runId)}/request.json";
    public static string RunEvents(string runId) => $"{Run(runId)}/events.jsonl";
    public static string RunReport(string runId) => $"{Run(runId)}/report.md";
    public static string RunManifest(string runId) => $"{Run(runId)}/manifest.json";

    /// <summary>Part <paramref name="part"/> of an append log (events.jsonl, metrics.jsonl): part 0 is the
    /// path itself, part n inserts ".n" before the extension (events.1.jsonl, events.2.jsonl, ...). An append
    /// blob takes at most 50,000 blocks, so a long log rolls over to the next part; readers read every
    /// part in order.</summary>
    public static string AppendLogPart(string logPath, int part)
    {
        if (part == 0) return logPath;
        var dot = logPath.LastIndexOf('.');
        var slash = logPath.LastIndexOf('/');
        return dot > slash
            ? $"{logPath[..dot]}.{part.ToString(CultureInfo.InvariantCulture)}{logPath[dot..]}"
            : $"{logPath}.{part.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The part number of <paramref name="path"/> in the append log <paramref name="logPath"/>, or
    /// null when it is not one of its parts.</summary>
    public static int? AppendLogPartOf(string logPath, string path)
    {
        if (path == logPath) return 0;
        var dot = logPath.LastIndexOf('.');
        var slash = logPath.LastIndexOf('/');
        var (stem, extension) = dot > slash ? (logPath[..dot], logPath[dot..]) : (logPath, "");
        if (!path.StartsWith(stem + ".", StringComparison.Ordinal) || !path.EndsWith(extension, StringComparison.Ordinal)) return null;
        var middle = path[(stem.Length + 1)..(path.Length - extension.Length)];
        return middle.Length > 0 && middle.All(char.IsAsciiDigit) && middle[0] != '0' &&
               int.TryParse(middle, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    /// <summary>runs/{runId}/cancel: written by a cancel request; a running job checks for it and stops.</summary>
    public static string CancelMarker(string runId) => $"{Run(runId)}/cancel";

    /// <summary>runs/{runId}/{stage}: metrics.jsonl, report.md, plots of one stage.</summary>
    public static string StageArtifacts(string runId, string stage) => $"{Run(runId)}/{stage}";
    public static string StageMetrics(string runId, string stage) => $"{StageArtifacts(runId, stage)}/metrics.jsonl";
    public static string StageReport(string runId, string stage) => $"{StageArtifacts(runId, stage)}/report.md";

    /// <summary>runs/{runId}/{stage}/claims/attempt-{n}.json: created once; a second claimant backs off.</summary>
    public static string Claim(string runId, string stage, int attempt) =>
        $"{StageArtifacts(runId, stage)}/claims/attempt-{attempt.ToString(CultureInfo.InvariantCulture)}.json";

    /// <summary>runs/{runId}/{stage}/stops/attempt-{n}.txt: written by the orchestration when it gives an
    /// attempt up (timed out and superseded by the next one, or the stage ended without it). The job checks
    /// it before claiming, before training and at every checkpoint, and stops without saving.</summary>
    public static string AttemptStopMarker(string runId, string stage, int attempt) =>
        $"{StageArtifacts(runId, stage)}/stops/attempt-{attempt.ToString(CultureInfo.InvariantCulture)}.txt";

    /// <summary>runs/{runId}/datasets/{sha256 of the path, 16 hex}.txt: the hash a run's dataset had when
    /// the run first used it ("{path} sha256 {hex}"); every later stage and attempt checks it.</summary>
    public static string DatasetPin(string runId, string datasetPath) =>
        $"{Run(runId)}/datasets/{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(datasetPath)))[..16]}.txt";

    /// <summary>The step of a checkpoint folder name ("step-120" gives 120), or null.</summary>
    public static long? StepOf(string checkpointPath)
    {
        var name = checkpointPath.TrimEnd('/');
        name = name[(name.LastIndexOf('/') + 1)..];
        return name.StartsWith(StepPrefix, StringComparison.Ordinal)
               && long.TryParse(name.AsSpan(StepPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var step)
            ? step
            : null;
    }

    /// <summary>Splits "container/name" into its parts.</summary>
    public static (string Container, string Name) Split(string blobPath)
    {
        Validate(blobPath, "blob path");
        var slash = blobPath.IndexOf('/', StringComparison.Ordinal);
        return (blobPath[..slash], blobPath[(slash + 1)..].TrimEnd('/'));
    }

    /// <summary>The longest blob path accepted: Blob Storage allows names of up to 1024 characters.</summary>
    public const int MaxPathLength = 1024;

    public static void Validate(string? blobPath, string field)
    {
        Validation.NotEmpty(blobPath, field);
        var slash = blobPath!.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == blobPath.Length - 1)
            throw new ContractException(
                $"{field} '{blobPath}' is not a blob path; write it as \"container/name\", e.g. \"datasets/demo/corpus.txt\"");
        var container = blobPath[..slash];
        if (!Containers.Contains(container))
            throw new ContractException(
                $"{field} '{blobPath}' names container '{container}'; use one of {string.Join(", ", Containers)}");
        if (blobPath.Contains("..", StringComparison.Ordinal) || blobPath.Contains('\\', StringComparison.Ordinal))
            throw new ContractException($"{field} '{blobPath}' may not contain '..' or backslashes");
        if (blobPath.Length > MaxPathLength)
            throw new ContractException($"{field} is {blobPath.Length} characters long; blob paths are at most {MaxPathLength} (Blob Storage's limit on names)");
    }
}

using System.Globalization;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>Local copies of a stage's inputs, for runs without Blob Storage.</summary>
public sealed record LocalStageInputs(string? Dataset, string? EvalDataset, string? BaseCheckpoint);

/// <summary>A stage job on local folders, for people at a terminal (`train`, `eval`): the container
/// job's <see cref="JobRunner"/> over a <see cref="FolderArtifactStore"/> and an event stream nobody
/// reads. The inputs are mounted where the job names them; the stage's outputs land in the output
/// folder: checkpoints/step-{n} (manifest.json with SHA-256 of every file, written last),
/// metrics.jsonl, report.md, plots/, result.json, claims/. Each command is a new attempt of run
/// "local"; started again with the same folder it resumes from the newest checkpoint that verifies,
/// also with more steps, another config or edited data (<see cref="JobRunnerOptions.FixedInputs"/> is
/// off), and it always trains: an earlier command's result.json is replaced, not republished.</summary>
public static class FolderJob
{
    /// <summary>Run id of local runs (checkpoint manifests name it).</summary>
    public const string RunId = "local";

    /// <summary>Runs <paramref name="job"/> (run <see cref="RunId"/>; its dataset, eval dataset and base
    /// checkpoint paths are set here) on <paramref name="inputs"/>, writing to <paramref name="outDir"/>.
    /// Throws <see cref="ContractException"/> for an invalid job or a missing input.</summary>
    public static async Task<JobOutcome> RunAsync(StageJob job, LocalStageInputs inputs, string outDir, StageExecutors executors,
        ILogger logger, Action<StageEvent>? onEvent, JobStopSignal stop, CancellationToken ct)
    {
        foreach (var (path, what) in new[] { (inputs.Dataset, "dataset"), (inputs.EvalDataset, "eval dataset"), (inputs.BaseCheckpoint, "base checkpoint") })
            if (path is not null && !File.Exists(path) && !Directory.Exists(path))
                throw new ContractException($"{what} '{path}' does not exist; give an existing file or folder");
        var mounts = new List<FolderMount>
        {
            new(BlobLayout.StageArtifacts(job.RunId, job.Stage), outDir),
            new(BlobLayout.CheckpointPrefix(job.RunId, job.Stage), Path.Combine(outDir, "checkpoints")),
        };
        string? Mount(string? local, string blobPath)
        {
            if (local is null) return null;
            mounts.Add(new FolderMount(blobPath, local));
            return blobPath;
        }
        job = job with
        {
            Dataset = Mount(inputs.Dataset, BlobLayout.Dataset(job.RunId, InputName(inputs.Dataset))),
            EvalDataset = Mount(inputs.EvalDataset, BlobLayout.Dataset($"{job.RunId}-eval", InputName(inputs.EvalDataset))),
            BaseCheckpoint = Mount(inputs.BaseCheckpoint, BlobLayout.Checkpoint(job.RunId, "base", 0)),
        };
        job.Validate();

        var store = new FolderArtifactStore(Path.Combine(outDir, "store"), mounts, logger);
        var previousResult = store.PathOf(JobBlobs.StageResult(job.RunId, job.Stage));
        if (File.Exists(previousResult)) File.Delete(previousResult); // a new command trains again
        var claims = store.PathOf(BlobLayout.Claim(job.RunId, job.Stage, 1));
        var earlier = Directory.Exists(Path.GetDirectoryName(claims)) ? Directory.GetFiles(Path.GetDirectoryName(claims)!).Length : 0;
        job = job with { Attempt = earlier + 1 };

        var options = new JobRunnerOptions { WorkRoot = Path.Combine(outDir, "work"), FixedInputs = false };
        var runner = new JobRunner(store, new DiscardingEventStream(), executors, options, logger) { OnEvent = onEvent };
        var outcome = await runner.RunAsync(job, stop, settle: null, ct);
        return outcome.Result is { ReportUri: { } report }
            ? outcome with { Summary = $"{outcome.Summary}; report {store.PathOf(report)}" }
            : outcome;
    }

    /// <summary>The file or folder name of a local input, as its blob path's last segment.</summary>
    private static string InputName(string? path) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path ?? "input"))) is { Length: > 0 } name
            ? name.Replace(' ', '_')
            : "input";
}

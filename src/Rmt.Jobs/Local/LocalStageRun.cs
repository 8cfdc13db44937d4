using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Rmt.Contracts;

namespace Rmt.Jobs.Local;

/// <summary>Local copies of a stage's inputs, for runs without Blob Storage.</summary>
public sealed record LocalStageInputs(string? Dataset, string? EvalDataset, string? BaseCheckpoint);

/// <summary>Runs a stage executor on local folders, for people at a terminal (`train`, `eval`): the
/// same executors and the same step cadence as <see cref="JobRunner"/>, with checkpoints in
/// {out}/checkpoints/step-{n} (manifest.json with SHA-256 of every file, written last), metrics in
/// {out}/metrics.jsonl, the report in {out}/report.md. Started again with the same --out it resumes
/// from the newest checkpoint that verifies. No claims, no events, no queue.</summary>
public sealed class LocalStageRun(StageExecutors executors, ILogger logger, Action<StageProgress>? onProgress = null)
{
    public async Task<JobOutcome> RunAsync(StageJob job, LocalStageInputs inputs, string outDir, JobStopSignal stop, CancellationToken ct)
    {
        if (job.Kind != StageKind.Pretrain && inputs.BaseCheckpoint is null)
            throw new ContractException($"a local {job.Kind.ToName()} run needs a base checkpoint folder");
        // Everything of the job is checked except baseCheckpoint, which is a local folder here, not a blob path.
        (job.Kind == StageKind.Pretrain ? job : job with { BaseCheckpoint = BlobLayout.Checkpoint(job.RunId, "base", 0) }).Validate();
        var executor = executors.For(job.Kind);
        var total = executor.TotalSteps(job);
        var (progressEvery, checkpointEvery) = JobRunner.Intervals(job);
        foreach (var (path, what) in new[] { (inputs.Dataset, "dataset"), (inputs.EvalDataset, "eval dataset"), (inputs.BaseCheckpoint, "base checkpoint") })
            if (path is not null && !File.Exists(path) && !Directory.Exists(path))
                throw new ContractException($"{what} '{path}' does not exist; give an existing file or folder");

        var checkpointsDir = Path.Combine(outDir, "checkpoints");
        Directory.CreateDirectory(checkpointsDir);
        var resume = FindResumePoint(checkpointsDir, out var skipped);
        var note = resume is null ? "starting from step 0" : $"resuming from step {resume.Checkpoint.Step} ({resume.LocalDir})";
        if (skipped.Count > 0) note += "; fell back because " + string.Join("; ", skipped);
        logger.LogInformation("{Stage}: {Note}; {Total} steps", job.Stage, note, total);

        var clock = Stopwatch.StartNew();
        var metricsFile = Path.Combine(outDir, "metrics.jsonl");
        long lastCheckpoint = resume?.Checkpoint.Step ?? -1;

        void Save(long step, CheckpointWriter write)
        {
            var dir = Path.Combine(checkpointsDir, $"step-{step}");
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            write(dir);
            File.WriteAllText(Path.Combine(dir, JobBlobs.JobFileName), RmtJson.Serialize(job, indented: true));
            WriteManifest(job, step, dir);
            lastCheckpoint = step;
            logger.LogInformation("checkpoint step {Step} -> {Dir}", step, dir);
        }

        async Task Report(StepMetrics metrics, CancellationToken token)
        {
            if (metrics.Step % progressEvery != 0 && metrics.Step != total) return;
            var line = new MetricsLine(metrics.Step, total, job.Attempt, DateTimeOffset.UtcNow, metrics.Loss, metrics.Reward,
                metrics.Accuracy, metrics.Budget, metrics.ReasoningLength, metrics.TokensPerSecond);
            await File.AppendAllTextAsync(metricsFile, JobsJson.Serialize(line) + "\n", token);
            onProgress?.Invoke(metrics.ToProgress(total));
        }

        async Task AfterStep(StepMetrics metrics, CheckpointWriter write, CancellationToken token)
        {
            await Report(metrics, token);
            if (metrics.Step % checkpointEvery == 0 && lastCheckpoint != metrics.Step) Save(metrics.Step, write);
            if (stop.IsRequested)
            {
                if (lastCheckpoint != metrics.Step) Save(metrics.Step, write);
                throw new StageStoppedException($"{stop.Detail}; saved a checkpoint at step {metrics.Step}");
            }
            token.ThrowIfCancellationRequested();
        }

        async Task ReportOnly(StepMetrics metrics, CancellationToken token)
        {
            await Report(metrics, token);
            if (stop.IsRequested) throw new StageStoppedException($"{stop.Detail}; stopped at step {metrics.Step} of {total}");
            token.ThrowIfCancellationRequested();
        }

        var workDir = Path.Combine(outDir, "work");
        Directory.CreateDirectory(workDir);
        var context = new StageContext(job, workDir, inputs.Dataset, inputs.EvalDataset, inputs.BaseCheckpoint, resume, total, stop, logger,
            null, AfterStep, ReportOnly, (step, write, _) =>
            {
                if (lastCheckpoint != step) Save(step, write);
                return Task.CompletedTask;
            });
        StageOutcome outcome;
        try
        {
            outcome = await executor.RunAsync(context, ct);
        }
        catch (StageStoppedException e)
        {
            return new JobOutcome(JobExitCode.Cancelled, e.Message, job, Failure: new StageFailure(FailureKind.Cancelled, e.Message, stop.Retryable));
        }
        catch (OperationCanceledException) when (stop.IsRequested && !ct.IsCancellationRequested)
        {
            var message = $"{stop.Detail}; stopped";
            return new JobOutcome(JobExitCode.Cancelled, message, job, Failure: new StageFailure(FailureKind.Cancelled, message, stop.Retryable));
        }

        if (outcome.HasCheckpoint && lastCheckpoint != outcome.FinalStep)
            throw new InvalidOperationException($"the stage ended at step {outcome.FinalStep} without saving its final checkpoint (SaveFinalCheckpointAsync)");
        var checkpoint = outcome.HasCheckpoint ? new CheckpointRef(Path.Combine(checkpointsDir, $"step-{outcome.FinalStep}"), outcome.FinalStep) : null;
        var history = File.Exists(metricsFile)
            ? StageReport.Deduplicate(File.ReadLines(metricsFile).Select(JobsJson.TryParse<MetricsLine>).OfType<MetricsLine>())
            : [];
        var plotsDir = Path.Combine(outDir, "plots");
        var plots = new List<string>();
        foreach (var plot in outcome.Plots)
        {
            Directory.CreateDirectory(plotsDir);
            var target = Path.Combine(plotsDir, Path.GetFileName(plot));
            if (!string.Equals(Path.GetFullPath(plot), Path.GetFullPath(target), StringComparison.Ordinal)) File.Copy(plot, target, overwrite: true);
            plots.Add(target);
        }
        plots.AddRange(MetricsPlots.Write(history, plotsDir, $"{job.RunId}/{job.Stage}"));
        var datasets = new[] { inputs.Dataset, inputs.EvalDataset }.OfType<string>().Where(File.Exists)
            .Select(p => new LocalDataset(p, p, new FileInfo(p).Length, Sha256(p))).ToList();
        var report = StageReport.Build(new StageReportInput(job, note, datasets, history, outcome, checkpoint, checkpoint?.Uri, plots,
            clock.Elapsed, Environment.MachineName, context.Precision?.ToString()));
        var reportPath = Path.Combine(outDir, "report.md");
        await File.WriteAllTextAsync(reportPath, report, ct);
        var result = new StageResult(checkpoint, reportPath, history.Count > 0 ? metricsFile : null, new Dictionary<string, double>(outcome.Metrics));
        await File.WriteAllTextAsync(Path.Combine(outDir, "result.json"), RmtJson.Serialize(result, indented: true), ct);
        return new JobOutcome(JobExitCode.Done, $"completed at step {outcome.FinalStep} ({note}); report {reportPath}", job, result,
            ResumedFromStep: resume?.Checkpoint.Step);
    }

    /// <summary>The newest step-{n} folder whose manifest verifies; newer broken ones are named in <paramref name="skipped"/>.</summary>
    private static ResumePoint? FindResumePoint(string checkpointsDir, out List<string> skipped)
    {
        skipped = [];
        var candidates = Directory.GetDirectories(checkpointsDir)
            .Select(d => (Dir: d, Step: BlobLayout.StepOf(d)))
            .Where(c => c.Step is not null)
            .OrderByDescending(c => c.Step);
        foreach (var (dir, step) in candidates)
        {
            var problem = Verify(dir);
            if (problem is null) return new ResumePoint(new CheckpointRef(dir, step!.Value), dir);
            skipped.Add($"{dir} failed verification: {problem}");
        }
        return null;
    }

    private static void WriteManifest(StageJob job, long step, string dir)
    {
        var files = Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != BlobLayout.ManifestFileName)
            .Select(f => new ManifestFile(Path.GetRelativePath(dir, f).Replace('\\', '/'), new FileInfo(f).Length, Sha256(f)))
            .OrderBy(f => f.Path, StringComparer.Ordinal)
            .ToList();
        var manifest = new CheckpointManifest(job.RunId, job.Stage, step, DateTimeOffset.UtcNow, files, Writer: $"local/{Environment.MachineName}");
        File.WriteAllText(Path.Combine(dir, BlobLayout.ManifestFileName), RmtJson.Serialize(manifest, indented: true));
    }

    /// <summary>Null when every file matches the manifest, else what is wrong.</summary>
    private static string? Verify(string dir)
    {
        var path = Path.Combine(dir, BlobLayout.ManifestFileName);
        if (!File.Exists(path)) return "no manifest.json (the save did not finish)";
        CheckpointManifest manifest;
        try
        {
            manifest = RmtJson.ParseManifest(File.ReadAllText(path), path);
        }
        catch (ContractException e)
        {
            return e.Message;
        }
        foreach (var file in manifest.Files)
        {
            var local = Path.Combine(dir, file.Path);
            if (!File.Exists(local)) return $"{file.Path} is missing";
            if (!string.Equals(Sha256(local), file.Sha256, StringComparison.OrdinalIgnoreCase)) return $"{file.Path} does not match its sha256";
        }
        return null;
    }

    private static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

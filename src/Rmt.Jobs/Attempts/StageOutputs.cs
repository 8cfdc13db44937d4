using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs.Attempts;

/// <summary>What an attempt tells the world as it goes and at the end: a 'progress' event and a
/// metrics.jsonl line every ProgressEvery steps (and at the last step); then the plots, the report and
/// result.json of the completed stage.</summary>
internal sealed class StageOutputs(
    IArtifactStore store, StageJob job, string workDir, long totalSteps, int progressEvery, StageEventPublisher events, TimeProvider time, ILogger logger)
{
    public async Task ReportProgressAsync(StageProgress metrics, CancellationToken ct)
    {
        if (metrics.Step % progressEvery != 0 && metrics.Step != totalSteps) return;
        logger.LogDebug("{Stage} step {Step}/{Total}{Loss}{Reward}{Accuracy}{Speed}", job.Stage, metrics.Step, totalSteps,
            metrics.Loss is { } l ? $" loss {l:F4}" : "", metrics.Reward is { } r ? $" reward {r:F3}" : "",
            metrics.Accuracy is { } a ? $" accuracy {a:F3}" : "", metrics.TokensPerSecond is { } t ? $" {t:F0} tok/s" : "");
        var progress = metrics with { TotalSteps = totalSteps };
        var line = new MetricsLine(job.Attempt, time.GetUtcNow(), progress);
        try
        {
            await store.AppendLinesAsync(BlobLayout.StageMetrics(job.RunId, job.Stage), [JobsJson.Serialize(line)], ct);
        }
        catch (Exception e) when (FailureClassifier.IsInfrastructure(e) && !ct.IsCancellationRequested)
        {
            logger.LogWarning("metrics line of step {Step} was not appended ({Error}); training goes on", metrics.Step, e.Message);
        }
        await events.ProgressAsync(progress, ct);
    }

    /// <summary>Plots, report and result.json of a completed stage; the result goes into 'completed'.</summary>
    public async Task<StageResult> PublishAsync(ExecutorOutcome outcome, CheckpointRef? checkpoint, string resumeNote,
        IReadOnlyList<LocalDataset> datasets, TimeSpan elapsed, string writer, string? precision, CancellationToken ct)
    {
        var metricsPath = BlobLayout.StageMetrics(job.RunId, job.Stage);
        var history = StageReport.Deduplicate(((await store.ReadAppendLogAsync(metricsPath, ct)) ?? "")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(JobsJson.TryParse<MetricsLine>)
            .OfType<MetricsLine>());
        var plots = new List<string>();
        var progressPlots = MetricsPlots.Write(history, Path.Combine(workDir, "plots"), $"{job.RunId}/{job.Stage}");
        foreach (var plot in outcome.Plots.Concat(progressPlots))
        {
            await store.UploadFileAsync(JobBlobs.Plot(job.RunId, job.Stage, Path.GetFileName(plot)), plot, ct);
            plots.Add(plot);
        }
        foreach (var file in outcome.Files ?? [])
            await store.UploadFileAsync($"{BlobLayout.StageArtifacts(job.RunId, job.Stage)}/{Path.GetFileName(file)}", file, ct);
        var report = StageReport.Build(new StageReportInput(job, resumeNote, datasets, history, outcome, checkpoint,
            checkpoint?.Uri, plots, elapsed, writer, precision));
        var reportPath = BlobLayout.StageReport(job.RunId, job.Stage);
        await store.WriteTextAsync(reportPath, report, ct);
        var result = new StageResult(checkpoint, reportPath, history.Count > 0 ? metricsPath : null,
            new Dictionary<string, double>(outcome.Metrics));
        await store.WriteTextAsync(JobBlobs.StageResult(job.RunId, job.Stage), RmtJson.Serialize(result, indented: true), ct);
        return result;
    }
}

using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Writes runs/{runId}/report.md (paper-style tables from the stages' metrics, links to the
/// plots the trainer stages left in runs/{runId}/{stage}/) and then runs/{runId}/manifest.json (every
/// stage's outcome and checkpoint, and the size and SHA-256 of every file of the run folder).
/// Idempotent: a rerun rewrites both from the same inputs.</summary>
public sealed class WriteReportActivity(IArtifactStore store, ILogger<WriteReportActivity> log)
    : TaskActivity<ReportInput, ReportResult>
{
    public override async Task<ReportResult> RunAsync(TaskActivityContext context, ReportInput input)
    {
        using var span = PipelineTelemetry.Start("rmt.pipeline.report", input.TraceParent, runId: input.RunId);
        var plots = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var stage in input.Stages)
        {
            var prefix = BlobLayout.StageArtifacts(input.RunId, stage.Stage) + "/";
            plots[stage.Stage] = (await store.ListAsync(prefix)).Where(p => p.StartsWith(prefix, StringComparison.Ordinal) && ReportBuilder.IsPlot(p)).ToList();
        }

        var reportUri = BlobLayout.RunReport(input.RunId);
        await store.WriteTextAsync(reportUri, ReportBuilder.Build(input, plots));

        var manifestUri = BlobLayout.RunManifest(input.RunId);
        var files = await HashRunFolderAsync(input.RunId, manifestUri);
        var stages = input.Stages.Select(s => new RunStageRecord(
            s.Stage, s.Kind, s.Attempts, s.Status, s.Result?.Checkpoint, s.Result?.ReportUri, s.Result?.Metrics)).ToList();
        var manifest = new RunManifest(input.RunId, new DateTimeOffset(input.FinishedAt, TimeSpan.Zero), stages, files);
        await store.WriteTextAsync(manifestUri, RmtJson.Serialize(manifest, indented: true));
        log.LogInformation("Run {RunId}: report {Report} and manifest ({Files} files) written", input.RunId, reportUri, files.Count);
        return new ReportResult(reportUri, manifestUri, files.Count);
    }

    private async Task<List<ManifestFile>> HashRunFolderAsync(string runId, string manifestUri)
    {
        var prefix = BlobLayout.Run(runId) + "/";
        var temp = Directory.CreateTempSubdirectory("rmt-report-").FullName; // private: random name, owner-only
        try
        {
            var files = new List<ManifestFile>();
            foreach (var blob in await store.ListAsync(prefix))
            {
                if (!blob.StartsWith(prefix, StringComparison.Ordinal) || blob == manifestUri) continue;
                var local = Path.Combine(temp, "file");
                await store.DownloadFileAsync(blob, local);
                files.Add(new ManifestFile(blob, new FileInfo(local).Length, await FileHash.Sha256Async(local)));
            }
            return files;
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}

using System.Globalization;
using System.Text;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>Everything the stage report (runs/{runId}/{stage}/report.md) says.</summary>
public sealed record StageReportInput(
    StageJob Job,
    string ResumeNote,
    IReadOnlyList<LocalDataset> Datasets,
    IReadOnlyList<MetricsLine> History,
    ExecutorOutcome Outcome,
    CheckpointRef? Checkpoint,
    string? CheckpointUri,
    IReadOnlyList<string> PlotFiles,
    TimeSpan Duration,
    string Host,
    string? Precision = null);

/// <summary>Writes the markdown report of one stage: what ran, on what, how training went, the final
/// metrics, and the executor's own sections and plots.</summary>
public static class StageReport
{
    /// <summary>At most this many rows of the progress table (evenly spaced, last one always shown).</summary>
    public const int MaxProgressRows = 20;

    public static string Build(StageReportInput input)
    {
        var job = input.Job;
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Stage report: {job.Stage} ({job.Kind.ToName()}) of run {job.RunId}");
        md.AppendLine();
        md.AppendLine("| | |");
        md.AppendLine("|---|---|");
        md.AppendLine(CultureInfo.InvariantCulture, $"| attempt | {job.Attempt} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| steps | {input.Outcome.FinalStep} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| start | {Escape(input.ResumeNote)} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| base checkpoint | {job.BaseCheckpoint ?? "none (from scratch)"} |");
        foreach (var dataset in input.Datasets)
            md.AppendLine(CultureInfo.InvariantCulture, $"| dataset | {dataset.BlobPath} ({dataset.Bytes} bytes, sha256 {dataset.Sha256[..16]}...) |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| final checkpoint | {input.CheckpointUri ?? "none"} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| duration | {input.Duration.TotalSeconds:F1} s on {Escape(input.Host)} |");
        if (input.Precision is not null) md.AppendLine(CultureInfo.InvariantCulture, $"| precision | {Escape(input.Precision)} |");
        md.AppendLine();

        if (input.Outcome.Metrics.Count > 0)
        {
            md.AppendLine("## Final metrics");
            md.AppendLine();
            md.AppendLine("| metric | value |");
            md.AppendLine("|---|---|");
            foreach (var (name, value) in input.Outcome.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {Format(value)} |");
            md.AppendLine();
        }

        if (input.History.Count > 0)
        {
            md.AppendLine("## Progress");
            md.AppendLine();
            md.AppendLine("| step | attempt | loss | reward | accuracy | budget | reasoning length | tokens/s |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var line in Sample(input.History, MaxProgressRows))
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {line.Step} | {line.Attempt} | {Format(line.Progress.Loss)} | {Format(line.Progress.Reward)} | {Format(line.Progress.Accuracy)} | {Format(line.Progress.Budget)} | {Format(line.Progress.ReasoningLength)} | {Format(line.Progress.TokensPerSecond)} |");
            md.AppendLine();
        }

        foreach (var section in input.Outcome.ReportSections)
        {
            md.AppendLine(section.TrimEnd());
            md.AppendLine();
        }

        if (input.PlotFiles.Count > 0)
        {
            md.AppendLine("## Plots");
            md.AppendLine();
            foreach (var plot in input.PlotFiles)
                md.AppendLine(CultureInfo.InvariantCulture, $"![{Path.GetFileNameWithoutExtension(plot)}](plots/{Path.GetFileName(plot)})");
            md.AppendLine();
        }
        return md.ToString();
    }

    /// <summary>The metrics history with one line per step (the newest attempt wins), in step order.</summary>
    public static IReadOnlyList<MetricsLine> Deduplicate(IEnumerable<MetricsLine> lines) =>
        lines.GroupBy(l => l.Step)
            .Select(g => g.OrderBy(l => l.Attempt).ThenBy(l => l.Time).Last())
            .OrderBy(l => l.Step)
            .ToList();

    private static IEnumerable<MetricsLine> Sample(IReadOnlyList<MetricsLine> lines, int max)
    {
        if (lines.Count <= max) return lines;
        var picked = Enumerable.Range(0, max).Select(i => (int)((long)i * (lines.Count - 1) / (max - 1))).Distinct();
        return picked.Select(i => lines[i]);
    }

    private static string Format(double? value) =>
        value is null ? "" : Format(value.Value);

    private static string Format(double value) =>
        Math.Abs(value) >= 1000 ? value.ToString("F0", CultureInfo.InvariantCulture) : value.ToString("G4", CultureInfo.InvariantCulture);

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}

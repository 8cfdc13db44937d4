using System.Globalization;
using System.Text;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Builds runs/{runId}/report.md from the stages' completed metrics (pure; unit tested).
///
/// Metric names it lays out as the paper's tables (Rmt.Contracts.StageMetricNames; any others are listed per stage):
///   next-token reasoning (mid-train-eval): accuracy_easy, accuracy_medium, accuracy_hard, accuracy, reasoning_length
///   math (post-train, post-train-eval):    accuracy_before (post-train), accuracy (post-train-eval), reasoning_length
/// A metric named "{model}/{metric}" (e.g. "ntp/accuracy_hard", "rpt/reasoning_length") is a baseline
/// or ablation evaluated by the same stage and becomes its own row; plain names are this run's model.</summary>
public static class ReportBuilder
{
    public const string AccuracyEasy = StageMetricNames.AccuracyEasy;
    public const string AccuracyMedium = StageMetricNames.AccuracyMedium;
    public const string AccuracyHard = StageMetricNames.AccuracyHard;
    public const string Accuracy = StageMetricNames.Accuracy;
    public const string AccuracyBefore = StageMetricNames.AccuracyBefore;
    public const string ReasoningLength = StageMetricNames.ReasoningLength;
    public const string ThisRun = "RMT (this run)";

    /// <param name="plots">Per stage, the plot blob paths under runs/{runId}/{stage}/.</param>
    public static string Build(ReportInput input, IReadOnlyDictionary<string, IReadOnlyList<string>> plots)
    {
        var md = new StringBuilder();
        var runPrefix = BlobLayout.Run(input.RunId) + "/";
        md.AppendLine($"# RMT pipeline run `{input.RunId}`").AppendLine();
        md.AppendLine($"- Status: **{input.Status}**");
        md.AppendLine($"- Started: {input.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, finished: {input.FinishedAt:yyyy-MM-dd HH:mm:ss} UTC " +
                      $"({(input.FinishedAt - input.StartedAt).TotalMinutes:0.0} min)");
        if (input.Reason is not null) md.AppendLine($"- Reason: {input.Reason}");
        md.AppendLine();

        md.AppendLine("## Stages").AppendLine();
        md.AppendLine("| Stage | Kind | Status | Attempts | Final checkpoint | Last step | Loss | Reward | Accuracy | Budget | Reasoning length |");
        md.AppendLine("|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var s in input.Stages)
        {
            var p = s.LastProgress;
            var checkpoint = s.Result?.Checkpoint is { } c ? $"`{c.Uri}`" : "-";
            md.AppendLine($"| {s.Stage} | {s.Kind.ToName()} | {s.Status} | {s.Attempts} | {checkpoint} | " +
                          $"{(p is null ? "-" : $"{p.Step}/{p.TotalSteps}")} | {F(p?.Loss)} | {F(p?.Reward)} | {F(p?.Accuracy)} | " +
                          $"{F(p?.Budget, "0")} | {F(p?.ReasoningLength, "0.0")} |");
        }
        foreach (var s in input.Stages.Where(s => s.Reason is not null))
            md.AppendLine().Append($"- {s.Stage}: {s.Reason}");
        md.AppendLine().AppendLine();

        // Mid-training's own held-out evaluation (the trained model, the untrained base with the same hint and
        // its argmax on the same positions) when it ran one; else the mid-train-eval stage's.
        var midEval = Metrics(input, PipelineStages.MidTrain) is { } mid && mid.ContainsKey(Accuracy) ? mid : Metrics(input, PipelineStages.MidTrainEval);
        if (midEval is not null)
        {
            md.AppendLine("## Next-token reasoning accuracy (after mid-training)").AppendLine();
            md.AppendLine("Accuracy (%) on held-out positions by entropy tier, and mean reasoning tokens per response.").AppendLine();
            md.AppendLine("| Model | Easy | Medium | Hard | Avg | Reasoning tokens |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (var (model, m) in Rows(midEval))
                md.AppendLine($"| {model} | {P(m, AccuracyEasy)} | {P(m, AccuracyMedium)} | {P(m, AccuracyHard)} | {P(m, Accuracy)} | {V(m, ReasoningLength)} |");
            md.AppendLine();
        }

        var post = Metrics(input, PipelineStages.PostTrain);
        var postEval = Metrics(input, PipelineStages.PostTrainEval);
        if (post is not null || postEval is not null)
        {
            md.AppendLine("## Math accuracy (post-training from the mid-trained checkpoint)").AppendLine();
            md.AppendLine("| Model | Before post-training | After post-training | Change | Reasoning tokens |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            var before = post is null ? new Dictionary<string, Dictionary<string, double>>() : Rows(post);
            var after = postEval is null ? new Dictionary<string, Dictionary<string, double>>() : Rows(postEval);
            foreach (var model in before.Keys.Union(after.Keys))
            {
                var b = before.GetValueOrDefault(model);
                var a = after.GetValueOrDefault(model);
                double? bv = b?.TryGetValue(AccuracyBefore, out var x) == true ? x : null;
                double? av = a?.TryGetValue(Accuracy, out var y) == true ? y : null;
                var change = bv is { } bb && av is { } aa ? $"{(aa - bb) * 100:+0.00;-0.00;0.00}" : "-";
                md.AppendLine($"| {model} | {Pct(bv)} | {Pct(av)} | {change} | {V(a ?? b, ReasoningLength)} |");
            }
            md.AppendLine();
        }

        md.AppendLine("## All metrics").AppendLine();
        foreach (var s in input.Stages.Where(s => s.Result?.Metrics is { Count: > 0 }))
        {
            md.AppendLine($"### {s.Stage}").AppendLine();
            md.AppendLine("| Metric | Value |").AppendLine("|---|---:|");
            foreach (var (name, value) in s.Result!.Metrics!.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                md.AppendLine($"| {name} | {value.ToString("0.####", CultureInfo.InvariantCulture)} |");
            if (s.Result.ReportUri is not null) md.AppendLine().AppendLine($"Stage report: [{s.Result.ReportUri}]({Relative(s.Result.ReportUri, runPrefix)})");
            md.AppendLine();
        }

        if (plots.Any(p => p.Value.Count > 0))
        {
            md.AppendLine("## Plots").AppendLine();
            foreach (var (stage, files) in plots.Where(p => p.Value.Count > 0))
            {
                md.AppendLine($"### {stage}").AppendLine();
                foreach (var file in files)
                    md.AppendLine($"![{Path.GetFileNameWithoutExtension(file)}]({Relative(file, runPrefix)})");
                md.AppendLine();
            }
        }

        md.AppendLine("## Artifacts").AppendLine();
        md.AppendLine($"- Request: `{BlobLayout.RunRequest(input.RunId)}`");
        md.AppendLine($"- Stage events: `{BlobLayout.RunEvents(input.RunId)}`");
        md.AppendLine($"- Manifest: `{BlobLayout.RunManifest(input.RunId)}`");
        md.AppendLine($"- Checkpoints: `{BlobLayout.CheckpointsContainer}/{input.RunId}/`");
        return md.ToString();
    }

    public static bool IsPlot(string blobPath) =>
        blobPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || blobPath.EndsWith(".svg", StringComparison.OrdinalIgnoreCase);

    private static IReadOnlyDictionary<string, double>? Metrics(ReportInput input, string stage) =>
        input.Stages.FirstOrDefault(s => s.Stage == stage && s.Status == Outcomes.Completed)?.Result?.Metrics;

    /// <summary>Splits "{model}/{metric}" names into rows; plain names are this run's row, listed first.</summary>
    private static Dictionary<string, Dictionary<string, double>> Rows(IReadOnlyDictionary<string, double> metrics)
    {
        var rows = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal) { [ThisRun] = [] };
        foreach (var (name, value) in metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var slash = name.IndexOf('/', StringComparison.Ordinal);
            var (model, metric) = slash > 0 ? (StageMetricNames.Label(name[..slash]), name[(slash + 1)..]) : (ThisRun, name);
            if (!rows.TryGetValue(model, out var row)) rows[model] = row = [];
            row[metric] = value;
        }
        if (rows[ThisRun].Count == 0) rows.Remove(ThisRun);
        return rows;
    }

    private static string Relative(string blobPath, string runPrefix) =>
        blobPath.StartsWith(runPrefix, StringComparison.Ordinal) ? blobPath[runPrefix.Length..] : blobPath;

    private static string P(Dictionary<string, double> m, string key) => m.TryGetValue(key, out var v) ? Pct(v) : "-";
    private static string V(Dictionary<string, double>? m, string key) => m?.TryGetValue(key, out var v) == true ? v.ToString("0.0", CultureInfo.InvariantCulture) : "-";
    private static string Pct(double? v) => v is { } x ? (x * 100).ToString("0.00", CultureInfo.InvariantCulture) : "-";
    private static string F(double? v, string format = "0.####") => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using Rmt.Contracts;
using Rmt.Training.Reporting;

namespace Rmt.Training.PostTraining;

/// <summary>Markdown and plots of post-training: one stage's before/after table, and a comparison
/// of several starting checkpoints post-trained with the same budget (the paper's claim).</summary>
public static class PostTrainReport
{
    /// <summary>The stage report's post-training section (<c>## Math post-training</c>), its plots
    /// written into <paramref name="plotDir"/> and linked as plots/{file} (where the job publishes
    /// them), and the result as JSON (post-train-result.json) beside them.</summary>
    public static (string Section, IReadOnlyList<string> Plots, string ResultFile) Write(
        PostTrainResult result, PostTrainConfig config, PostTrainInputs inputs, string plotDir)
    {
        Directory.CreateDirectory(plotDir);
        var plots = Plots(result, plotDir, "");
        var md = new StringBuilder();
        md.AppendLine("## Math post-training (GRPO, verifiable rewards)").AppendLine();
        var source = inputs.EvalData is null ? " (tail of the training file)" : $" from `{inputs.EvalData}`";
        md.AppendLine(Inv($"Base checkpoint `{inputs.BaseCheckpoint}`; {result.TrainProblems} training problems from `{inputs.TrainData}`, ")
            + Inv($"{result.HeldOutProblems} held-out problems{source}, {result.DroppedProblems} dropped (too long for the context). ")
            + Inv($"{config.Schedule.Steps} steps x {config.Schedule.BatchSize} problems x G = {config.GroupSize}, lr {config.Schedule.LearningRate:G3}, ")
            + Inv($"temperature {config.Temperature}, format weight {config.FormatRewardWeight}, KL {config.Grpo.KlWeight}, format warm-up {WarmupDescription(config, result.TrainProblems, result.FormatWarmupStepsTaken)}.")).AppendLine();
        md.AppendLine(BeforeAfterTable(result.Before, result.After, result.AfterFormatWarmup)).AppendLine();
        foreach (var plot in plots) md.AppendLine(Inv($"![{Path.GetFileNameWithoutExtension(plot)}](plots/{Path.GetFileName(plot)})"));
        md.AppendLine().AppendLine("Greedy answers on held-out problems after training:").AppendLine();
        foreach (var e in result.After.Examples)
            md.AppendLine(Inv($"- {(e.Correct ? "right" : "wrong")} (reference {e.Reference}): `{Flat(e.Question)}` -> `{Flat(e.Completion)}`"));
        var resultFile = Path.Combine(plotDir, ResultFileName);
        File.WriteAllText(resultFile, JsonSerializer.Serialize(result, PostTrainResult.Json));
        return (md.ToString(), plots, resultFile);
    }

    /// <summary>The format warm-up in words: "N NTP steps", or with a target the steps taken (or "up to
    /// N" where <paramref name="stepsTaken"/> is unknown, as for an experiment's budget) and when it stops.</summary>
    public static string WarmupDescription(PostTrainConfig config, int trainProblems, int? stepsTaken)
    {
        if (config.FormatWarmupTargetAccuracy <= 0) return Inv($"{config.FormatWarmupSteps} NTP steps");
        var length = stepsTaken?.ToString(CultureInfo.InvariantCulture) ?? Inv($"up to {config.FormatWarmupSteps}");
        return Inv($"{length} NTP steps (stopping at the first check, every {config.FormatWarmupCheckEvery} steps, with {config.FormatWarmupTargetAccuracy:P0} greedy accuracy on ")
               + Inv($"{PostTrainSetup.WarmupCheckProblems(trainProblems)} training problems withheld from the warm-up, or after {config.FormatWarmupSteps})");
    }

    /// <summary>The file the post-train stage publishes its <see cref="PostTrainResult"/> in, beside its report.</summary>
    public const string ResultFileName = "post-train-result.json";

    /// <summary>Reads a result written by <see cref="Write"/>.</summary>
    public static PostTrainResult ReadResult(string path) =>
        JsonSerializer.Deserialize<PostTrainResult>(File.ReadAllText(path), PostTrainResult.Json)
        ?? throw new InvalidDataException($"{path} holds no post-training result");

    /// <summary>| metric | before | (after format warm-up) | after | change | for greedy accuracy,
    /// pass@k, sampled accuracy, format rate, completion length and truncation.</summary>
    public static string BeforeAfterTable(MathEvaluation before, MathEvaluation after, MathEvaluation? afterWarmup = null)
    {
        var md = new StringBuilder();
        md.AppendLine(afterWarmup is null ? "| held-out metric | before | after | change |" : "| held-out metric | before | after format warm-up | after GRPO | change |");
        md.AppendLine(afterWarmup is null ? "|---|---:|---:|---:|" : "|---|---:|---:|---:|---:|");
        Row("accuracy (greedy)", e => e.Accuracy, percent: true);
        Row($"pass@{after.K} ({after.Samples} samples)", e => e.PassAtK, percent: true);
        Row("sampled accuracy (pass@1)", e => e.SampledAccuracy, percent: true);
        Row("well-formed (greedy)", e => e.FormatRate, percent: true);
        Row("completion tokens (greedy)", e => e.MeanCompletionTokens, percent: false);
        Row("truncated (greedy)", e => e.TruncatedRate, percent: true);
        return md.ToString().TrimEnd();

        void Row(string name, Func<MathEvaluation, double> metric, bool percent)
        {
            double a = metric(before), b = metric(after);
            var middle = afterWarmup is null ? "" : (percent ? Inv($" {metric(afterWarmup):P1} |") : Inv($" {metric(afterWarmup):F1} |"));
            md.AppendLine(percent
                ? Inv($"| {name} | {a:P1} |{middle} {b:P1} | {(b - a) * 100:+0.0;-0.0;0.0} pt |")
                : Inv($"| {name} | {a:F1} |{middle} {b:F1} | {b - a:+0.0;-0.0;0.0} |"));
        }
    }

    /// <summary>One row per starting checkpoint, post-trained with the same budget: accuracy and
    /// pass@k before -> after. The best "after" accuracy is in bold.</summary>
    public static string ComparisonTable(IReadOnlyList<(string Name, PostTrainResult Result)> runs)
    {
        if (runs.Count == 0) throw new ArgumentException("no runs to compare", nameof(runs));
        var k = runs[0].Result.After.K;
        var best = runs.Max(r => r.Result.After.Accuracy);
        var md = new StringBuilder();
        md.AppendLine(Inv($"| starting checkpoint | accuracy before | after format warm-up | accuracy after | change | pass@{k} before | pass@{k} after | sampled before | sampled after warm-up | sampled after | well-formed after |"));
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, r) in runs)
        {
            var after = Inv($"{r.After.Accuracy:P1}");
            if (r.After.Accuracy == best) after = $"**{after}**";
            string Warmed(Func<MathEvaluation, double> metric) => r.AfterFormatWarmup is { } w ? Inv($"{metric(w):P1}") : "-";
            md.AppendLine(Inv($"| {name} | {r.Before.Accuracy:P1} | {Warmed(e => e.Accuracy)} | {after} | {(r.After.Accuracy - r.Before.Accuracy) * 100:+0.0;-0.0;0.0} pt | {r.Before.PassAtK:P1} | {r.After.PassAtK:P1} | {r.Before.SampledAccuracy:P1} | {Warmed(e => e.SampledAccuracy)} | {r.After.SampledAccuracy:P1} | {r.After.FormatRate:P1} |"));
        }
        return md.ToString().TrimEnd();
    }

    /// <summary>Reward and correctness over steps for each run (one plot), and held-out accuracy at
    /// each evaluation; returns the PNG paths.</summary>
    public static IReadOnlyList<string> ComparisonPlots(IReadOnlyList<(string Name, PostTrainResult Result)> runs, string dir)
    {
        var window = System.Math.Max(1, runs.Max(r => r.Result.Steps.Count) / 20);
        var reward = LinePlots.Save(Path.Combine(dir, "post-train-reward.png"), "Post-training: training reward (smoothed)", "step", "mean reward",
            runs.Select(r => new PlotSeries(r.Name, r.Result.Steps.Select(s => (double)s.Step).ToArray(), LinePlots.Smooth(r.Result.Steps.Select(s => s.Reward).ToList(), window))));
        var accuracy = LinePlots.Save(Path.Combine(dir, "post-train-accuracy.png"), "Post-training: held-out greedy accuracy", "step", "accuracy",
            runs.Select(r => new PlotSeries(r.Name, r.Result.Evaluations.Select(e => (double)e.Step).ToArray(), r.Result.Evaluations.Select(e => e.Evaluation.Accuracy).ToArray())));
        return [reward, accuracy];
    }

    private static IReadOnlyList<string> Plots(PostTrainResult result, string dir, string prefix)
    {
        if (result.Steps.Count == 0) return [];
        var x = result.Steps.Select(s => (double)s.Step).ToArray();
        var window = System.Math.Max(1, result.Steps.Count / 20);
        var training = LinePlots.Save(Path.Combine(dir, prefix + "training.png"), "GRPO rollouts (smoothed)", "step", "fraction",
        [
            new PlotSeries("reward", x, LinePlots.Smooth(result.Steps.Select(s => s.Reward).ToList(), window)),
            new PlotSeries("correct", x, LinePlots.Smooth(result.Steps.Select(s => s.Correct).ToList(), window)),
            new PlotSeries("well-formed", x, LinePlots.Smooth(result.Steps.Select(s => s.Format).ToList(), window)),
        ]);
        var ex = result.Evaluations.Select(e => (double)e.Step).ToArray();
        var heldOut = LinePlots.Save(Path.Combine(dir, prefix + "held-out.png"), "Held-out accuracy", "step", "fraction",
        [
            new PlotSeries("greedy accuracy", ex, result.Evaluations.Select(e => e.Evaluation.Accuracy).ToArray()),
            new PlotSeries($"pass@{result.After.K}", ex, result.Evaluations.Select(e => e.Evaluation.PassAtK).ToArray()),
        ]);
        return [training, heldOut];
    }

    private static string Flat(string text) => text.Replace("\n", " \\n ", StringComparison.Ordinal).Replace("`", "'", StringComparison.Ordinal);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

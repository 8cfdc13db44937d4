using ScottPlot;

namespace Rmt.Jobs;

/// <summary>One PNG per metric a stage reported (loss, reward, accuracy, budget, reasoning length,
/// tokens/s) against the step, from its metrics history. Stage executors add their own plots.</summary>
public static class MetricsPlots
{
    public const int Width = 640;
    public const int Height = 360;

    /// <summary>Writes progress-{metric}.png into <paramref name="dir"/> for every metric with at
    /// least two points; returns the files.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<MetricsLine> history, string dir, string title)
    {
        var series = new (string Name, string Label, Func<MetricsLine, double?> Value)[]
        {
            ("loss", "loss", l => l.Progress.Loss),
            ("reward", "mean reward", l => l.Progress.Reward),
            ("accuracy", "accuracy", l => l.Progress.Accuracy),
            ("budget", "token budget B_t", l => l.Progress.Budget),
            ("reasoning-length", "mean reasoning tokens", l => l.Progress.ReasoningLength),
            ("tokens-per-second", "tokens/s", l => l.Progress.TokensPerSecond),
        };
        var files = new List<string>();
        foreach (var (name, label, value) in series)
        {
            var points = history.Where(l => value(l) is { } v && double.IsFinite(v)).Select(l => (X: (double)l.Step, Y: value(l)!.Value)).ToArray();
            if (points.Length < 2) continue;
            Directory.CreateDirectory(dir);
            var plot = new Plot();
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            line.MarkerSize = points.Length <= 50 ? 4 : 0;
            plot.Title($"{title}: {label}");
            plot.XLabel("step");
            plot.YLabel(label);
            var file = Path.Combine(dir, $"progress-{name}.png");
            plot.SavePng(file, Width, Height);
            files.Add(file);
        }
        return files;
    }
}

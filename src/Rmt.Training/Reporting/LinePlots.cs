using ScottPlot;

namespace Rmt.Training.Reporting;

/// <summary>One named line of a plot: x and y values of equal length.</summary>
public sealed record PlotSeries(string Name, double[] X, double[] Y);

/// <summary>PNG line plots for training reports (reward, accuracy, budget, reasoning length over
/// steps; accuracy before and after post-training). Used by the RMT experiment, the post-training
/// report and the GPU job.</summary>
public static class LinePlots
{
    /// <summary>Writes a PNG with one line per series and a legend; returns the path.</summary>
    public static string Save(string path, string title, string xLabel, string yLabel, IEnumerable<PlotSeries> series, int width = 800, int height = 450)
    {
        var plot = new Plot();
        foreach (var s in series)
        {
            if (s.X.Length != s.Y.Length) throw new ArgumentException($"series '{s.Name}' has {s.X.Length} x values and {s.Y.Length} y values");
            if (s.X.Length == 0) continue;
            var line = plot.Add.Scatter(s.X, s.Y);
            line.LegendText = s.Name;
            line.MarkerSize = s.X.Length > 40 ? 0 : 4;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Edge.Right);   // beside the data, so it never hides a curve
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(path, width, height);
        return path;
    }

    /// <summary>Moving average over a window (the first points average what exists), for noisy curves.</summary>
    public static double[] Smooth(IReadOnlyList<double> values, int window)
    {
        var smoothed = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            smoothed[i] = sum / Math.Min(i + 1, window);
        }
        return smoothed;
    }
}

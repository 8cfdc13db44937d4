using Rmt.Training.Reporting;

namespace Rmt.Training.Tests.Reporting;

public sealed class LinePlotsTests
{
    [Fact]
    public void Writes_a_png_with_several_series()
    {
        var dir = TestPaths.TempDir("plots");
        var path = LinePlots.Save(Path.Combine(dir, "reward.png"), "Reward", "step", "reward",
            [new PlotSeries("rmt", [0, 1, 2], [0.1, 0.4, 0.6]), new PlotSeries("rpt", [0, 1, 2], [0.1, 0.2, 0.3])]);
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Directory.Delete(dir, recursive: true);
        Assert.Throws<ArgumentException>(() => LinePlots.Save(Path.Combine(dir, "x.png"), "t", "x", "y", [new PlotSeries("bad", [0, 1], [1])]));
    }

    [Fact]
    public void Smoothing_is_a_trailing_moving_average()
    {
        Assert.Equal(new[] { 1.0, 1.5, 2.0, 3.0 }, LinePlots.Smooth([1, 2, 3, 4], 3));
    }
}

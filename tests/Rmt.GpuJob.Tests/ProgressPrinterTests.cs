using Rmt.Contracts;
using Rmt.GpuJob.Commands;

namespace Rmt.GpuJob.Tests;

public sealed class ProgressPrinterTests
{
    [Fact]
    public void The_progress_line_shows_the_bar_the_step_and_the_metrics()
    {
        var line = ProgressPrinter.Format(new StageProgress(30, 120, Loss: 2.31, Reward: 0.4123, TokensPerSecond: 12345), TimeSpan.FromSeconds(70));
        Assert.Equal("[######..................] 30/120  loss 2.3100  reward 0.412  12,345 tok/s  eta 0:01:10", line);
    }

    [Fact]
    public void Lines_after_a_bar_start_on_a_new_line()
    {
        using var output = new StringWriter();
        var printer = new ProgressPrinter(output, interactive: true);
        printer.Draw(new StageProgress(1, 2, Loss: 1));
        printer.Line("checkpoint step 2");
        var text = output.ToString();
        Assert.StartsWith("\r[############............] 1/2  loss 1.0000", text, StringComparison.Ordinal);
        Assert.EndsWith("loss 1.0000\ncheckpoint step 2\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }
}

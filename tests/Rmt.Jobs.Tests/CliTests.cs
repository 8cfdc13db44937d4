using Rmt.Contracts;
using Rmt.Jobs.Cli;

namespace Rmt.Jobs.Tests;

public sealed class CliTests
{
    private static readonly string[] Values = ["job-file", "wait"];
    private static readonly string[] Flags = ["keep-work-dir"];

    [Fact]
    public void Options_parse_with_spaces_or_equals_and_flags_take_no_value()
    {
        var args = CliArgs.Parse("run", ["--job-file", "a.json", "--wait=5", "--keep-work-dir"], Values, Flags);
        Assert.Equal("a.json", args.Get("job-file"));
        Assert.Equal(5, args.Seconds("wait", 30));
        Assert.True(args.Has("keep-work-dir"));
        Assert.False(args.Help);
        Assert.True(CliArgs.Parse("run", ["--help"], Values, Flags).Help);
    }

    [Theory]
    [InlineData(new[] { "--jobfile", "a.json" }, "unknown option --jobfile; known options: --job-file, --keep-work-dir, --wait, --help")]
    [InlineData(new[] { "--job-file" }, "--job-file needs a value")]
    [InlineData(new[] { "--wait", "soon" }, "--wait is 'soon'")]
    [InlineData(new[] { "stray" }, "unexpected argument 'stray'")]
    [InlineData(new[] { "--keep-work-dir=yes" }, "--keep-work-dir takes no value")]
    public void Bad_command_lines_fail_naming_the_option(string[] argv, string expected)
    {
        var e = Assert.Throws<CliException>(() => CliArgs.Parse("run", argv, Values, Flags).Seconds("wait", 1));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_required_option_names_itself_when_missing()
    {
        var e = Assert.Throws<CliException>(() => CliArgs.Parse("train", [], Values, Flags).Require("job-file", "the job to run"));
        Assert.Contains("--job-file is required (the job to run)", e.Message, StringComparison.Ordinal);
    }

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

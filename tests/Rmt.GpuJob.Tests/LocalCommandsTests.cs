using Rmt.Contracts;
using Rmt.GpuJob.Commands;
using Rmt.Jobs;
using Rmt.Jobs.Executors;
using Rmt.Training.Checkpoints;

namespace Rmt.GpuJob.Tests;

/// <summary>`train` and `eval` on local folders: checkpoints with manifests, resume from --out, a
/// report, and exit codes for bad options.</summary>
public sealed class LocalCommandsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rmt-local-{Guid.NewGuid():N}");

    public LocalCommandsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Train_writes_checkpoints_metrics_and_a_report_and_a_second_run_resumes_from_out()
    {
        var corpus = Path.Combine(_dir, "corpus.txt");
        await File.WriteAllTextAsync(corpus, Rmt.Jobs.Tests.TinyJobs.Corpus());
        var config = Path.Combine(_dir, "pretrain.json");
        await File.WriteAllTextAsync(config, """{"schedule":{"steps":3,"batchSize":2,"warmupSteps":1,"checkpointEvery":2,"progressEvery":1,"seed":7},"sequenceLength":32}""");
        var outDir = Path.Combine(_dir, "out");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var first = await LocalCommands.TrainAsync(new TrainOptions("pretrain", corpus, outDir, ConfigFile: config), StageExecutorCatalog.All(), output, error);
        Assert.True(first == 0, error.ToString());
        Assert.Equal(["step-2", "step-3"], Directory.GetDirectories(Path.Combine(outDir, "checkpoints")).Select(Path.GetFileName).Order());
        Assert.True(File.Exists(Path.Combine(outDir, "checkpoints", "step-3", BlobLayout.ManifestFileName)));

        var second = await LocalCommands.TrainAsync(new TrainOptions("pretrain", corpus, outDir, ConfigFile: config, Steps: 5), StageExecutorCatalog.All(), output, error);
        Assert.True(second == 0, error.ToString());
        Assert.Equal(5, Checkpoint.ReadState(Path.Combine(outDir, "checkpoints", "step-5"))!.Step);
        Assert.Contains("resuming from step 3", output.ToString(), StringComparison.Ordinal);
        var steps = (await File.ReadAllLinesAsync(Path.Combine(outDir, "metrics.jsonl"))).Select(l => JobsJson.TryParse<MetricsLine>(l)!.Step);
        Assert.Equal([1L, 2, 3, 4, 5], steps);
        var report = await File.ReadAllTextAsync(Path.Combine(outDir, "report.md"));
        Assert.Contains("resuming from step 3", report, StringComparison.Ordinal);
        Assert.Contains("| precision | fp32 (cpu computes in float32) |", report, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(outDir, "plots", "progress-loss.png")));
    }

    [Fact]
    public async Task Bad_options_exit_2_naming_the_problem()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var corpus = Path.Combine(_dir, "corpus.txt");
        await File.WriteAllTextAsync(corpus, Rmt.Jobs.Tests.TinyJobs.Corpus());

        Assert.Equal(2, await LocalCommands.TrainAsync(new TrainOptions("mid-train", corpus, _dir), StageExecutorCatalog.All(), output, error));
        Assert.Contains("--kind mid-train needs --base DIR", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await LocalCommands.TrainAsync(new TrainOptions("finetune", corpus, _dir), StageExecutorCatalog.All(), output, error));
        Assert.Contains("unknown stage kind 'finetune'", error.ToString(), StringComparison.Ordinal);
        var config = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(config, """{"schedule":{"steps":0}}""");
        Assert.Equal(2, await LocalCommands.TrainAsync(new TrainOptions("pretrain", corpus, _dir, ConfigFile: config), StageExecutorCatalog.All(), output, error));
        Assert.Contains("pretrain.schedule.steps is 0", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, await LocalCommands.EvalAsync(new EvalOptions(Path.Combine(_dir, "missing"), corpus, _dir), StageExecutorCatalog.All(), output, error));
        Assert.Contains("does not exist", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stage_that_fails_exits_5_and_says_why_on_the_error_stream()
    {
        var corpus = Path.Combine(_dir, "corpus.txt");
        await File.WriteAllTextAsync(corpus, Rmt.Jobs.Tests.TinyJobs.Corpus());
        var notAModel = Path.Combine(_dir, "not-a-model");
        Directory.CreateDirectory(notAModel);
        await File.WriteAllTextAsync(Path.Combine(notAModel, "notes.txt"), "no weights here");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await LocalCommands.TrainAsync(new TrainOptions("mid-train", corpus, Path.Combine(_dir, "out"), Base: notAModel), StageExecutorCatalog.All(), output, error);

        Assert.Equal(5, code);
        Assert.StartsWith("train failed: ", error.ToString(), StringComparison.Ordinal);
    }
}

using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Jobs;

namespace Rmt.Jobs.Tests;

/// <summary>The small parts of the job lifecycle that need no storage: recovering a run from a broken
/// message, classifying failures, stop requests, report contents.</summary>
public sealed class JobPiecesTests
{
    [Theory]
    [InlineData("""{"runId":"r1","stage":"mid-train","attempt":3,"kind":"bogus"}""", "r1", "mid-train", 3)]
    [InlineData("""{"runId":"r1","stage":"Not An Id"}""", "r1", MalformedJob.UnknownStage, 1)]
    [InlineData("""{"runId":"r1","attempt":"two"}""", "r1", MalformedJob.UnknownStage, 1)]
    public void A_malformed_job_still_names_its_run_when_the_run_id_is_valid(string body, string run, string stage, int attempt)
    {
        var recovered = MalformedJob.TryRecover(body);
        Assert.Equal(new MalformedJob(run, stage, attempt), recovered);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"stage":"pretrain"}""")]
    [InlineData("""{"runId":"UPPER CASE"}""")]
    public void A_message_without_a_valid_run_id_recovers_nothing(string body) =>
        Assert.Null(MalformedJob.TryRecover(body));

    [Fact]
    public void Failures_are_classified_by_cause_and_phase()
    {
        Assert.Equal(FailureKind.InvalidInput, FailureClassifier.Classify(new ContractException("bad"), FailureClassifier.Phase.Training).Kind);
        var missingInput = FailureClassifier.Classify(new ArtifactException("missing dataset"), FailureClassifier.Phase.Inputs);
        Assert.Equal((FailureKind.InvalidInput, false), (missingInput.Kind, missingInput.Retryable));
        var storage = FailureClassifier.Classify(new InvalidOperationException("wrapped", new Azure.RequestFailedException(503, "busy")), FailureClassifier.Phase.Training);
        Assert.Equal((FailureKind.Infrastructure, true), (storage.Kind, storage.Retryable));
        Assert.Contains("busy", storage.Message, StringComparison.Ordinal);
        var training = FailureClassifier.Classify(new InvalidOperationException("loss is NaN"), FailureClassifier.Phase.Training);
        Assert.Equal((FailureKind.Training, false), (training.Kind, training.Retryable));
    }

    [Fact]
    public void The_first_stop_request_wins_and_decides_retryability()
    {
        using var stop = new JobStopSignal();
        Assert.False(stop.IsRequested);
        stop.Request(StopReason.Preempted, "SIGTERM");
        stop.Request(StopReason.UserCancel, "cancel marker");
        Assert.True(stop.Token.IsCancellationRequested);
        Assert.Equal(StopReason.Preempted, stop.Reason);
        Assert.Equal("SIGTERM", stop.Detail);
        Assert.True(stop.Retryable);
    }

    [Fact]
    public void Metrics_history_keeps_one_line_per_step_from_the_newest_attempt()
    {
        var t = DateTimeOffset.UnixEpoch;
        var lines = new[]
        {
            new MetricsLine(1, t, new StageProgress(2, 6, Loss: 3.0)), new MetricsLine(1, t, new StageProgress(4, 6, Loss: 2.5)),
            new MetricsLine(2, t.AddMinutes(1), new StageProgress(4, 6, Loss: 2.4)), new MetricsLine(2, t.AddMinutes(2), new StageProgress(6, 6, Loss: 2.0)),
        };
        var history = StageReport.Deduplicate(lines);
        Assert.Equal([2L, 4, 6], history.Select(l => l.Step));
        Assert.Equal(2.4, history[1].Progress.Loss);
    }

    [Fact]
    public void The_report_names_the_run_the_start_point_the_metrics_and_the_plots()
    {
        var job = new StageJob("r1", "pretrain", StageKind.Pretrain, 2, "checkpoints/r1/pretrain", Dataset: "datasets/demo/corpus.txt",
            Pretrain: new PretrainConfig());
        var outcome = new ExecutorOutcome(6, new Dictionary<string, double> { ["final.loss"] = 1.25 }, HasCheckpoint: true, ["## Samples\n\nhello"], ["/tmp/x/loss.png"]);
        var history = Enumerable.Range(1, 50).Select(i => new MetricsLine(1, DateTimeOffset.UnixEpoch, new StageProgress(i, 50, Loss: 5.0 / i))).ToList();
        var report = StageReport.Build(new StageReportInput(job, "resuming from step 4 (checkpoints/r1/pretrain/step-4)",
            [new LocalDataset("datasets/demo/corpus.txt", "/tmp/c", 10, new string('a', 64))], history, outcome,
            new CheckpointRef("checkpoints/r1/pretrain/step-6", 6), "checkpoints/r1/pretrain/step-6", outcome.Plots, TimeSpan.FromSeconds(3), "host"));

        Assert.Contains("# Stage report: pretrain (pretrain) of run r1", report, StringComparison.Ordinal);
        Assert.Contains("resuming from step 4", report, StringComparison.Ordinal);
        Assert.Contains("| final.loss | 1.25 |", report, StringComparison.Ordinal);
        Assert.Contains("## Samples", report, StringComparison.Ordinal);
        Assert.Contains("![loss](plots/loss.png)", report, StringComparison.Ordinal);
        var progressRows = report.Split('\n').Count(l => l.StartsWith("| ", StringComparison.Ordinal) && char.IsDigit(l[2]) && l.Contains(" | 1 | ", StringComparison.Ordinal));
        Assert.Equal(StageReport.MaxProgressRows, progressRows);
        Assert.Contains("| 50 | 1 |", report, StringComparison.Ordinal); // the last step is always shown
    }

    [Fact]
    public void Evaluation_jobs_report_progress_after_every_pass_and_never_checkpoint()
    {
        var eval = new StageJob("r1", "eval", StageKind.Eval, 1, "checkpoints/r1/eval", BaseCheckpoint: "checkpoints/r1/mid-train/step-6",
            Eval: new EvalConfig(MaxExamples: 200));
        Assert.Equal((1, int.MaxValue), JobRunner.Intervals(eval));
        var train = new StageJob("r1", "pretrain", StageKind.Pretrain, 1, "checkpoints/r1/pretrain",
            Pretrain: new PretrainConfig(new TrainingSchedule(Steps: 10, ProgressEvery: 2, CheckpointEvery: 5, WarmupSteps: 0)));
        Assert.Equal((2, 5), JobRunner.Intervals(train));
    }
}

public sealed class MetricsPlotsTests
{
    [Fact]
    public void Each_reported_metric_gets_a_png_and_absent_ones_none()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"rmt-plots-{Guid.NewGuid():N}");
        try
        {
            var history = Enumerable.Range(1, 5).Select(i => new MetricsLine(1, DateTimeOffset.UnixEpoch, new StageProgress(i, 5, Loss: 3.0 / i, TokensPerSecond: 100 * i))).ToList();
            var files = MetricsPlots.Write(history, dir, "r1/pretrain");
            Assert.Equal(["progress-loss.png", "progress-tokens-per-second.png"], files.Select(Path.GetFileName));
            foreach (var file in files)
            {
                var bytes = File.ReadAllBytes(file);
                Assert.True(bytes.Length > 1000);
                Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_default_work_root_is_a_private_temporary_folder()
    {
        var root = new JobRunnerOptions().WorkRoot;

        Assert.True(Directory.Exists(root));
        Assert.NotEqual(Path.Combine(Path.GetTempPath(), "rmt-jobs"), root);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
        Assert.Equal(root, new JobRunnerOptions().WorkRoot); // one per process
    }
}

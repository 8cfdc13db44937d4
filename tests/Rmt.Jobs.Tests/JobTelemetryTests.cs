using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Rmt.Contracts;

namespace Rmt.Jobs.Tests;

/// <summary>What the job lifecycle emits for the exporters (Rmt.GpuJob subscribes them): a span per
/// attempt that continues the run's trace, a child span per step and per checkpoint, and the training
/// histograms, all tagged with run and stage. Recorded in-process with an ActivityListener and a
/// MeterListener on a real job against Azurite; other tests' jobs run beside it, so everything is
/// filtered by run id.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class JobTelemetryTests : IDisposable
{
    private readonly AzuriteFixture _azurite;
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)> _measurements = new();
    private readonly ActivityListener _traces;
    private readonly MeterListener _metrics;

    public JobTelemetryTests(AzuriteFixture azurite)
    {
        _azurite = azurite;
        _traces = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TelemetryNames.JobSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_traces);
        _metrics = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TelemetryNames.JobSource) listener.EnableMeasurementEvents(instrument);
            },
        };
        _metrics.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags) copy[tag.Key] = tag.Value;
            _measurements.Enqueue((instrument.Name, value, copy));
        });
        _metrics.Start();
    }

    public void Dispose()
    {
        _traces.Dispose();
        _metrics.Dispose();
    }

    private List<Activity> SpansOf(string runId) =>
        [.. _spans.Where(s => (s.GetTagItem(TelemetryNames.RunIdTag) as string) == runId)];

    [Fact]
    public async Task A_job_continues_the_runs_trace_with_a_span_per_step_and_checkpoint_and_records_its_training_metrics()
    {
        await using var harness = JobHarness.Create(_azurite);
        var runId = TinyJobs.RunId("telemetry");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        var pipeline = ActivityContext.Parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null);
        var job = TinyJobs.Pretrain(runId, steps: 5, checkpointEvery: 3) with { TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };

        using var stop = new JobStopSignal();
        var outcome = await harness.Runner(TinyJobs.Executors).RunJsonAsync(RmtJson.Serialize(job), "job.json", stop, CancellationToken.None);
        Assert.Equal(JobExitCode.Done, outcome.ExitCode);

        var spans = SpansOf(runId);
        var attempt = Assert.Single(spans, s => s.OperationName == TelemetryNames.JobSpan);
        Assert.Equal(ActivityKind.Consumer, attempt.Kind);
        Assert.Equal(pipeline.TraceId, attempt.TraceId);
        Assert.Equal(pipeline.SpanId, attempt.ParentSpanId);
        Assert.Equal(["pretrain", "pretrain", 1, 0], new[] { attempt.GetTagItem(TelemetryNames.StageTag), attempt.GetTagItem(TelemetryNames.KindTag),
            attempt.GetTagItem(TelemetryNames.AttemptTag), attempt.GetTagItem(TelemetryNames.ExitCodeTag) });
        Assert.Equal(ActivityStatusCode.Ok, attempt.Status);

        var steps = spans.Where(s => s.OperationName == TelemetryNames.TrainStepSpan).OrderBy(s => (long)s.GetTagItem(TelemetryNames.StepTag)!).ToList();
        Assert.Equal([1L, 2, 3, 4, 5], steps.Select(s => (long)s.GetTagItem(TelemetryNames.StepTag)!));
        Assert.All(steps, s =>
        {
            Assert.Equal(attempt.TraceId, s.TraceId);
            Assert.Equal(attempt.SpanId, s.ParentSpanId);
            Assert.True((double)s.GetTagItem(TelemetryNames.LossTag)! > 0);
            Assert.True((double)s.GetTagItem(TelemetryNames.TokensPerSecondTag)! > 0);
            Assert.True(s.Duration > TimeSpan.Zero);
        });
        Assert.Equal([true, null, null, null, null], steps.Select(s => s.GetTagItem(TelemetryNames.IncludesSetupTag)));
        // Steps follow one another inside the attempt; none starts before the previous one ended.
        for (int i = 1; i < steps.Count; i++)
            Assert.True(steps[i].StartTimeUtc >= steps[i - 1].StartTimeUtc + steps[i - 1].Duration, $"step {i + 1} starts before step {i} ended");
        Assert.True(steps[0].StartTimeUtc >= attempt.StartTimeUtc && steps[^1].StartTimeUtc + steps[^1].Duration <= attempt.StartTimeUtc + attempt.Duration);

        var checkpoints = spans.Where(s => s.OperationName == TelemetryNames.CheckpointSpan).ToList();
        Assert.Equal([3L, 5], checkpoints.Select(s => (long)s.GetTagItem(TelemetryNames.StepTag)!).Order());
        Assert.All(checkpoints, s => Assert.Equal(attempt.SpanId, s.ParentSpanId));

        var measured = _measurements.Where(m => (m.Tags.GetValueOrDefault(TelemetryNames.RunIdTag) as string) == runId).ToList();
        Assert.Equal(5, measured.Count(m => m.Name == TelemetryNames.LossMetric));
        Assert.Equal(5, measured.Count(m => m.Name == TelemetryNames.TokensPerSecondMetric));
        Assert.Equal(4, measured.Count(m => m.Name == TelemetryNames.StepTimeMetric)); // the first step includes setup
        Assert.Equal(steps.Select(s => (double)s.GetTagItem(TelemetryNames.LossTag)!), measured.Where(m => m.Name == TelemetryNames.LossMetric).Select(m => m.Value));
        Assert.All(measured, m => Assert.Equal("pretrain", m.Tags[TelemetryNames.StageTag]));
        Assert.DoesNotContain(measured, m => m.Name == TelemetryNames.RewardMetric); // pretraining has no reward
    }

    [Fact]
    public void The_job_span_continues_the_process_trace_parent_before_the_jobs_own()
    {
        const string fromJob = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        const string fromRunner = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
        var job = TinyJobs.Pretrain("r1") with { TraceParent = fromJob };

        Assert.Equal(ActivityContext.Parse(fromRunner, null), JobTelemetry.ParentOf(job, fromRunner));
        Assert.Equal(ActivityContext.Parse(fromJob, null), JobTelemetry.ParentOf(job, null));
        Assert.Equal(ActivityContext.Parse(fromJob, null), JobTelemetry.ParentOf(job, "not a traceparent"));
        Assert.Equal(default, JobTelemetry.ParentOf(job with { TraceParent = null }, null));
    }
}

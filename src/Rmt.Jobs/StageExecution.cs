using Microsoft.Extensions.Logging;
using Rmt.Contracts;
using Rmt.Training.Model;

namespace Rmt.Jobs;

/// <summary>Runs one kind of stage (pretrain, mid-train, post-train, eval) inside a job. The
/// <see cref="JobRunner"/> owns everything around it: claims, downloads, events, checkpoint upload,
/// cancellation and reports. An executor only trains or evaluates, in local folders, and calls back
/// through <see cref="StageContext"/> after every step.</summary>
public interface IStageExecutor
{
    StageKind Kind { get; }

    /// <summary>Total steps of the stage as the job configures it (examples for an evaluation).</summary>
    long TotalSteps(StageJob job);

    /// <summary>Runs the stage from <see cref="StageContext.Resume"/> (when set) or from
    /// <see cref="StageContext.BaseCheckpointDir"/>. Calls <see cref="StageContext.AfterStepAsync"/>
    /// after every optimizer step and, while the model is still alive, <see cref="StageContext.SaveFinalCheckpointAsync"/>
    /// at the end; returns what the stage produced.</summary>
    Task<ExecutorOutcome> RunAsync(StageContext context, CancellationToken ct);
}

/// <summary>Writes the complete state needed to resume (model, tokenizer, optimizer,
/// trainer_state.json) into an empty local folder.</summary>
public delegate void CheckpointWriter(string directory);

/// <summary>What a finished executor hands back to the runner (the orchestration's record of a stage
/// is another thing: Rmt.Pipeline's StageOutcome).</summary>
/// <param name="FinalStep">The step the stage ended at (equals the total steps when it ran to the end).</param>
/// <param name="Metrics">Final metrics for the completed event and the report, e.g. "eval.accuracy".</param>
/// <param name="HasCheckpoint">True when the stage's result is a checkpoint (training stages, which
/// saved it with <see cref="StageContext.SaveFinalCheckpointAsync"/>); false for evaluations.</param>
/// <param name="ReportSections">Markdown the stage adds to its report (tables, samples), in order.</param>
/// <param name="Plots">Local image files to publish beside the report (plots/{file name}).</param>
/// <param name="Files">Other local files to publish beside the report ({file name}), e.g. a stage's
/// per-step results as JSON for experiments that compare runs.</param>
public sealed record ExecutorOutcome(
    long FinalStep,
    IReadOnlyDictionary<string, double> Metrics,
    bool HasCheckpoint,
    IReadOnlyList<string> ReportSections,
    IReadOnlyList<string> Plots,
    IReadOnlyList<string>? Files = null);

/// <summary>The checkpoint a stage resumes from: where it was downloaded and its step.</summary>
public sealed record ResumePoint(CheckpointRef Checkpoint, string LocalDir);

/// <summary>What an executor gets from the runner: the job, local copies of its inputs, where to
/// resume from, and the per-step callback that publishes progress, saves checkpoints and honours
/// stop requests.</summary>
public sealed class StageContext
{
    private readonly Func<StageProgress, CheckpointWriter, CancellationToken, Task> _afterStep;
    private readonly Func<StageProgress, CancellationToken, Task> _report;
    private readonly Func<long, CheckpointWriter, CancellationToken, Task> _final;

    internal StageContext(
        StageJob job, string workDir, string? datasetPath, string? evalDatasetPath, string? baseCheckpointDir,
        ResumePoint? resume, long totalSteps, JobStopSignal stop, ILogger logger, string? deviceOverride,
        Func<StageProgress, CheckpointWriter, CancellationToken, Task> afterStep,
        Func<StageProgress, CancellationToken, Task> report,
        Func<long, CheckpointWriter, CancellationToken, Task> final)
    {
        Job = job;
        WorkDir = workDir;
        DatasetPath = datasetPath;
        EvalDatasetPath = evalDatasetPath;
        BaseCheckpointDir = baseCheckpointDir;
        Resume = resume;
        TotalSteps = totalSteps;
        Stop = stop;
        Logger = logger;
        DeviceOverride = deviceOverride;
        _afterStep = afterStep;
        _report = report;
        _final = final;
    }

    public StageJob Job { get; }

    /// <summary>A private folder for this attempt (scratch files, plots).</summary>
    public string WorkDir { get; }

    /// <summary>A folder kept across attempts of this run and stage on this machine, for caches keyed by
    /// their inputs' content (proxy entropies): a rerun of `train` over the same --out finds them again.</summary>
    public string CacheDir => Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(WorkDir))!, "cache");

    /// <summary>Local copy of the job's dataset (a file, or a folder when the dataset is a blob prefix).</summary>
    public string? DatasetPath { get; }

    public string? EvalDatasetPath { get; }

    /// <summary>Local copy of the verified base checkpoint; null when the stage starts from scratch.</summary>
    public string? BaseCheckpointDir { get; }

    /// <summary><see cref="BaseCheckpointDir"/> for the stages that start from one (every kind but
    /// pretrain; <see cref="StageJob.Validate"/> already refuses such a job without baseCheckpoint).</summary>
    public string RequiredBaseCheckpointDir => BaseCheckpointDir
        ?? throw new ContractException($"stage job of kind '{Job.Kind.ToName()}' needs baseCheckpoint; only pretrain starts from scratch");

    /// <summary>The newest valid checkpoint of this run and stage; null on a fresh start.</summary>
    public ResumePoint? Resume { get; }

    /// <summary>The step to continue after: 0 on a fresh start.</summary>
    public long StartStep => Resume?.Checkpoint.Step ?? 0;

    public long TotalSteps { get; }

    /// <summary>Set on SIGTERM, Ctrl+C or a cancel marker. Training executors need not watch it:
    /// <see cref="AfterStepAsync"/> saves a checkpoint and stops. Long loops without steps (evaluation)
    /// pass <see cref="JobStopSignal.Token"/> on.</summary>
    public JobStopSignal Stop { get; }

    public ILogger Logger { get; }

    /// <summary>The process's device setting (RMT_DEVICE: "cuda" in the GPU image); when set it wins
    /// over the device in the stage config, so one job message runs on whatever machine takes it.</summary>
    public string? DeviceOverride { get; }

    /// <summary>The device to train on: <see cref="DeviceOverride"/>, else the configured one. Also
    /// decides (and logs once) the <see cref="Precision"/> the stage computes in on that device.</summary>
    public string DeviceFor(string configured)
    {
        var name = DeviceOverride ?? configured;
        var precision = Devices.PrecisionOf(Devices.Parse(name));
        if (Precision != precision)
            Logger.LogInformation("stage {Stage} on {Device} computes in {Precision}", Job.Stage, name, precision);
        Precision = precision;
        return name;
    }

    /// <summary>The compute precision on the stage's device (bf16, or fp32 where bf16 is not native);
    /// null until the executor asked <see cref="DeviceFor"/>. The stage report records it.</summary>
    public Precision? Precision { get; private set; }

    /// <summary>The step's progress record (<see cref="StageProgress"/>: the one record of a step's
    /// metrics, in events, metrics.jsonl and telemetry), with this stage's total steps.</summary>
    public StageProgress Progress(long step, double? loss = null, double? reward = null, double? accuracy = null,
        double? budget = null, double? reasoningLength = null, double? tokensPerSecond = null) =>
        new(step, TotalSteps, loss, reward, accuracy, budget, reasoningLength, tokensPerSecond);

    /// <summary>Call after every optimizer step. Publishes progress every ProgressEvery steps, saves
    /// and uploads a checkpoint every CheckpointEvery steps (with <paramref name="writeCheckpoint"/>),
    /// and, when a stop was requested, saves a checkpoint and throws <see cref="StageStoppedException"/>.</summary>
    public Task AfterStepAsync(StageProgress metrics, CheckpointWriter writeCheckpoint, CancellationToken ct) =>
        _afterStep(metrics, writeCheckpoint, ct);

    /// <summary>Saves and uploads the checkpoint of the last step unless <see cref="AfterStepAsync"/>
    /// already did. Call it before the model is disposed.</summary>
    public Task SaveFinalCheckpointAsync(long step, CheckpointWriter writeCheckpoint, CancellationToken ct) =>
        _final(step, writeCheckpoint, ct);

    /// <summary>Progress of work without checkpoints (evaluation): published every ProgressEvery
    /// steps; throws <see cref="StageStoppedException"/> when a stop was requested.</summary>
    public Task ReportAsync(StageProgress metrics, CancellationToken ct) => _report(metrics, ct);
}

/// <summary>Thrown out of a stage after a stop request was honoured (checkpoint saved when the stage
/// trains). The runner turns it into a 'failed' event of kind cancelled.</summary>
public sealed class StageStoppedException : Exception
{
    public StageStoppedException(string message) : base(message) { }
    public StageStoppedException(string message, Exception inner) : base(message, inner) { }
    public StageStoppedException() { }

    public CheckpointRef? Checkpoint { get; init; }
}

/// <summary>The executors a job process knows, one per stage kind.</summary>
public sealed class StageExecutors
{
    private readonly Dictionary<StageKind, IStageExecutor> _byKind = [];

    public StageExecutors(IEnumerable<IStageExecutor> executors)
    {
        foreach (var executor in executors)
            if (!_byKind.TryAdd(executor.Kind, executor))
                throw new ArgumentException($"two executors for stage kind '{executor.Kind.ToName()}'", nameof(executors));
    }

    public IStageExecutor For(StageKind kind) =>
        _byKind.TryGetValue(kind, out var executor)
            ? executor
            : throw new ContractException(
                $"this job process has no executor for stage kind '{kind.ToName()}'; it runs {string.Join(", ", _byKind.Keys.Select(k => k.ToName()))}");
}

using Microsoft.Extensions.Logging;
using Rmt.Contracts;
using Rmt.Jobs;

namespace Rmt.GpuJob.Commands;

/// <summary>Options of `train`.</summary>
/// <param name="Kind">pretrain, mid-train or post-train.</param>
/// <param name="Dataset">Training data (text corpus; GSM8K-style jsonl for post-train).</param>
/// <param name="Out">checkpoints/step-N, metrics.jsonl, report.md, plots/; the same --out resumes.</param>
/// <param name="Base">Starting checkpoint folder; needed except for pretrain.</param>
/// <param name="EvalDataset">Held-out data for the stage's own evaluation.</param>
/// <param name="ConfigFile">The stage config as JSON (PretrainConfig, MidTrainConfig, PostTrainConfig).</param>
/// <param name="Steps">Overrides schedule.steps.</param>
/// <param name="Device">Overrides schedule.device.</param>
public sealed record TrainOptions(
    string Kind, string Dataset, string Out, string? Base = null, string? EvalDataset = null,
    string? ConfigFile = null, int? Steps = null, string? Device = null);

/// <summary>Options of `eval`.</summary>
public sealed record EvalOptions(
    string Checkpoint, string Dataset, string Out, string? ConfigFile = null, int? MaxExamples = null, string? Device = null);

/// <summary>`train` and `eval`: the stage executors of the GPU job on local folders, for a person at
/// a terminal. No storage account, no queue: inputs are files, outputs go to --out (checkpoints,
/// metrics.jsonl, report.md, plots). Running the same command again resumes from the newest valid
/// checkpoint in --out. Exit codes: 0 done, 2 bad options or config, 5 failed, 130 stopped.</summary>
public static class LocalCommands
{
    /// <summary>Run id of local runs (checkpoint manifests name it).</summary>
    public const string LocalRunId = FolderJob.RunId;

    /// <summary>What `train --help` says below the command's summary (the library lists the options).</summary>
    public const string TrainUsage =
        "Trains one stage on local files with the executors of `run`, with a progress bar. --out gets checkpoints/step-N,\n" +
        "metrics.jsonl, report.md and plots/; running it again resumes. --config is the stage config JSON\n" +
        "(PretrainConfig, MidTrainConfig or PostTrainConfig). exit codes: 0 done, 2 bad options, 4 failed (a retry may succeed: storage, machine), 5 failed (bad input or a bug), 130 Ctrl+C (checkpoint saved)";

    /// <summary>What `eval --help` says below the command's summary.</summary>
    public const string EvalUsage =
        "Evaluates a checkpoint with the eval stage's evaluators; writes report.md and result.json to --out.\n" +
        "exit codes: 0 done, 2 bad options, 4 failed (a retry may succeed), 5 failed (bad input or a bug), 130 Ctrl+C";

    public static Task<int> TrainAsync(TrainOptions options, StageExecutors executors, TextWriter output, TextWriter error) =>
        RunAsync("train", () => PlanTraining(options), executors, output, error);

    public static Task<int> EvalAsync(EvalOptions options, StageExecutors executors, TextWriter output, TextWriter error) =>
        RunAsync("eval", () => PlanEvaluation(options), executors, output, error);

    /// <summary>The job, inputs and output folder of a `train` command.</summary>
    public static (StageJob Job, LocalStageInputs Inputs, string Out) PlanTraining(TrainOptions options)
    {
        var kind = StageKinds.Parse(options.Kind);
        if (kind == StageKind.Eval) throw new ContractException("train: --kind eval is the `eval` command");
        var json = ReadConfig(options.ConfigFile);
        TrainingSchedule Override(TrainingSchedule s) => s with
        {
            Steps = options.Steps ?? s.Steps,
            WarmupSteps = Math.Min(s.WarmupSteps, options.Steps ?? s.Steps),
            Device = options.Device ?? s.Device,
        };
        var job = new StageJob(LocalRunId, kind.ToName(), kind, 1, BlobLayout.CheckpointPrefix(LocalRunId, kind.ToName()));
        switch (kind)
        {
            case StageKind.Pretrain:
                var pretrain = RmtJson.Parse<PretrainConfig>(json, options.ConfigFile ?? "pretrain config");
                job = job with { Pretrain = pretrain with { Schedule = Override(pretrain.Schedule) } };
                break;
            case StageKind.MidTrain:
                var midTrain = RmtJson.Parse<MidTrainConfig>(json, options.ConfigFile ?? "mid-train config");
                job = job with { MidTrain = midTrain with { Schedule = Override(midTrain.Schedule) } };
                break;
            default:
                var postTrain = RmtJson.Parse<PostTrainConfig>(json, options.ConfigFile ?? "post-train config");
                job = job with { PostTrain = postTrain with { Schedule = Override(postTrain.Schedule) } };
                break;
        }
        if (kind != StageKind.Pretrain && options.Base is null)
            throw new ContractException($"train: --kind {kind.ToName()} needs --base DIR (the checkpoint to start from)");
        return (job, new LocalStageInputs(options.Dataset, options.EvalDataset, options.Base), options.Out);
    }

    /// <summary>The job, inputs and output folder of an `eval` command.</summary>
    public static (StageJob Job, LocalStageInputs Inputs, string Out) PlanEvaluation(EvalOptions options)
    {
        var config = RmtJson.Parse<EvalConfig>(ReadConfig(options.ConfigFile), options.ConfigFile ?? "eval config");
        config = config with
        {
            MaxExamples = options.MaxExamples ?? config.MaxExamples,
            Device = options.Device ?? config.Device,
        };
        var job = new StageJob(LocalRunId, "eval", StageKind.Eval, 1, BlobLayout.CheckpointPrefix(LocalRunId, "eval"), Eval: config);
        return (job, new LocalStageInputs(options.Dataset, null, options.Checkpoint), options.Out);
    }

    private static async Task<int> RunAsync(string command, Func<(StageJob Job, LocalStageInputs Inputs, string Out)> plan,
        StageExecutors executors, TextWriter output, TextWriter error)
    {
        (StageJob Job, LocalStageInputs Inputs, string Out) work;
        try
        {
            work = plan();
        }
        catch (ContractException e)
        {
            await error.WriteLineAsync($"{command}: {e.Message}");
            return (int)JobExitCode.InvalidJob;
        }

        using var loggers = JobLogging.CreateFactory();
        var logger = loggers.CreateLogger($"Rmt.{command}");
        using var stop = new JobStopSignal();
        using var abort = new CancellationTokenSource();
        using var signals = JobSignals.Register(stop, abort, logger);
        var printer = new ProgressPrinter(output, interactive: !Console.IsOutputRedirected);
        try
        {
            var outcome = await FolderJob.RunAsync(work.Job, work.Inputs, work.Out, executors, logger, printer.OnEvent, stop, abort.Token);
            if (outcome.ExitCode is JobExitCode.FailedPermanent or JobExitCode.FailedRetryable)
                await error.WriteLineAsync($"{command} failed: {outcome.Summary}"); // the runner caught it and said which kind
            else
                printer.Line(outcome.Summary);
            if (outcome.Result?.Metrics is { Count: > 0 } metrics)
                foreach (var (name, value) in metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                    printer.Line($"  {name} = {value:G6}");
            return outcome.ProcessExitCode;
        }
        catch (ContractException e)
        {
            await error.WriteLineAsync($"{command}: {e.Message}");
            return (int)JobExitCode.InvalidJob;
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            printer.Line($"{command}: aborted without a checkpoint");
            return (int)JobExitCode.Cancelled;
        }
        catch (Exception e)
        {
            logger.LogError(e, "{Command} failed", command);
            await error.WriteLineAsync($"{command} failed: {FailureClassifier.Describe(e)}");
            return (int)JobExitCode.FailedPermanent;
        }
    }

    private static string ReadConfig(string? file) =>
        file is null ? "{}"
        : File.Exists(file) ? File.ReadAllText(file)
        : throw new ContractException($"--config '{file}' does not exist");
}

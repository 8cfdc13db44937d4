using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Rmt.Contracts;
using Rmt.Jobs.Local;

namespace Rmt.Jobs.Cli;

/// <summary>`train` and `eval`: the stage executors of the GPU job on local folders, for a person at
/// a terminal. No storage account, no queue: inputs are files, outputs go to --out (checkpoints,
/// metrics.jsonl, report.md, plots). Running the same command again resumes from the newest valid
/// checkpoint in --out.</summary>
public static class LocalCommands
{
    /// <summary>Run id of local runs (checkpoint manifests name it).</summary>
    public const string LocalRunId = "local";

    public const string TrainUsage = """
        usage: Rmt.GpuJob train --kind pretrain|mid-train|post-train --dataset FILE --out DIR
                                [--base DIR] [--eval-dataset FILE] [--config FILE] [--steps N] [--device cpu|cuda]

        Trains one stage on local files with the same executors as `run`, showing a progress bar.
          --kind KIND          pretrain (from scratch unless --base), mid-train (RMT or a baseline), post-train (math GRPO)
          --dataset FILE       training data (text corpus; GSM8K-style jsonl for post-train)
          --out DIR            checkpoints/step-N, metrics.jsonl, report.md, plots/; rerun to resume
          --base DIR           starting checkpoint (HF folder: config.json, model.safetensors, tokenizer); needed except for pretrain
          --eval-dataset FILE  held-out data for the stage's own evaluation
          --config FILE        the stage config as JSON (PretrainConfig, MidTrainConfig or PostTrainConfig); defaults otherwise
          --steps N            override schedule.steps
          --device DEV         override schedule.device: cpu, cuda, cuda:N
        exit codes: 0 done, 2 bad command line or config, 5 failed, 130 stopped by Ctrl+C (checkpoint saved)
        """;

    public const string EvalUsage = """
        usage: Rmt.GpuJob eval --checkpoint DIR --dataset FILE --out DIR [--config FILE] [--max-examples N] [--device cpu|cuda]

        Evaluates a checkpoint with the evaluators of the eval stage and writes report.md and result.json to --out.
          --checkpoint DIR     the checkpoint to evaluate (HF folder)
          --dataset FILE       held-out data: a text corpus (next-token reasoning accuracy by entropy tier)
                               or GSM8K-style jsonl (math accuracy)
          --config FILE        EvalConfig as JSON
          --max-examples N     override eval.maxExamples
          --device DEV         override eval.device
        exit codes: 0 done, 2 bad command line or config, 5 failed, 130 stopped by Ctrl+C
        """;

    public static Task<int> TrainAsync(IReadOnlyList<string> args, StageExecutors executors, TextWriter output, TextWriter error) =>
        RunAsync("train", TrainUsage, args, ["kind", "dataset", "out", "base", "eval-dataset", "config", "steps", "device"], executors, output, error,
            PlanTraining);

    public static Task<int> EvalAsync(IReadOnlyList<string> args, StageExecutors executors, TextWriter output, TextWriter error) =>
        RunAsync("eval", EvalUsage, args, ["checkpoint", "dataset", "out", "config", "max-examples", "device"], executors, output, error,
            PlanEvaluation);

    /// <summary>The job, inputs and output folder of a `train` command line.</summary>
    public static (StageJob Job, LocalStageInputs Inputs, string Out) PlanTraining(CliArgs options)
    {
        var kind = StageKinds.Parse(options.Require("kind", "which stage to train"));
        if (kind == StageKind.Eval) throw new CliException("train: --kind eval is the `eval` command");
        var json = options.Get("config") is { } file ? ReadConfig(file) : "{}";
        var steps = options.Has("steps") ? options.Int("steps", 0, 1, 10_000_000) : (int?)null;
        var device = options.Get("device");
        TrainingSchedule Override(TrainingSchedule s) => s with
        {
            Steps = steps ?? s.Steps,
            WarmupSteps = Math.Min(s.WarmupSteps, steps ?? s.Steps),
            Device = device ?? s.Device,
        };
        var job = new StageJob(LocalRunId, kind.ToName(), kind, 1, BlobLayout.CheckpointPrefix(LocalRunId, kind.ToName()));
        switch (kind)
        {
            case StageKind.Pretrain:
                var pretrain = RmtJson.Parse<PretrainConfig>(json, "pretrain config");
                job = job with { Pretrain = pretrain with { Schedule = Override(pretrain.Schedule) } };
                break;
            case StageKind.MidTrain:
                var midTrain = RmtJson.Parse<MidTrainConfig>(json, "mid-train config");
                job = job with { MidTrain = midTrain with { Schedule = Override(midTrain.Schedule) } };
                break;
            default:
                var postTrain = RmtJson.Parse<PostTrainConfig>(json, "post-train config");
                job = job with { PostTrain = postTrain with { Schedule = Override(postTrain.Schedule) } };
                break;
        }
        var baseDir = options.Get("base");
        if (kind != StageKind.Pretrain && baseDir is null)
            throw new CliException($"train: --kind {kind.ToName()} needs --base DIR (the checkpoint to start from)");
        var inputs = new LocalStageInputs(options.Require("dataset", "the training data"), options.Get("eval-dataset"), baseDir);
        return (job, inputs, options.Require("out", "where checkpoints and the report go"));
    }

    /// <summary>The job, inputs and output folder of an `eval` command line.</summary>
    public static (StageJob Job, LocalStageInputs Inputs, string Out) PlanEvaluation(CliArgs options)
    {
        var config = RmtJson.Parse<EvalConfig>(options.Get("config") is { } file ? ReadConfig(file) : "{}", "eval config");
        config = config with
        {
            MaxExamples = options.Has("max-examples") ? options.Int("max-examples", 0, 1, 10_000_000) : config.MaxExamples,
            Device = options.Get("device") ?? config.Device,
        };
        var job = new StageJob(LocalRunId, "eval", StageKind.Eval, 1, BlobLayout.CheckpointPrefix(LocalRunId, "eval"), Eval: config);
        var inputs = new LocalStageInputs(options.Require("dataset", "the held-out data"), null, options.Require("checkpoint", "the checkpoint to evaluate"));
        return (job, inputs, options.Require("out", "where the report goes"));
    }

    private static async Task<int> RunAsync(string command, string usage, IReadOnlyList<string> args, string[] valueOptions, StageExecutors executors,
        TextWriter output, TextWriter error, Func<CliArgs, (StageJob Job, LocalStageInputs Inputs, string Out)> plan)
    {
        (StageJob Job, LocalStageInputs Inputs, string Out) work;
        try
        {
            var options = CliArgs.Parse(command, args, valueOptions, []);
            if (options.Help)
            {
                await output.WriteLineAsync(usage);
                return 0;
            }
            work = plan(options);
        }
        catch (Exception e) when (e is CliException or ContractException)
        {
            await error.WriteLineAsync(e.Message);
            return (int)JobExitCode.InvalidJob;
        }

        using var loggers = JobLogging.CreateFactory();
        var logger = loggers.CreateLogger($"Rmt.{command}");
        using var stop = new JobStopSignal();
        using var abort = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            if (stop.IsRequested) abort.Cancel();
            else stop.Request(StopReason.UserCancel, "stopped by Ctrl+C");
        });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Request(StopReason.Preempted, "stopped by SIGTERM");
        });
        var printer = new ProgressPrinter(output, interactive: !Console.IsOutputRedirected);
        var run = new LocalStageRun(executors, logger, printer.Draw);
        try
        {
            var outcome = await run.RunAsync(work.Job, work.Inputs, work.Out, stop, abort.Token);
            printer.Line(outcome.Summary);
            if (outcome.Result?.Metrics is { Count: > 0 } metrics)
                foreach (var (name, value) in metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                    printer.Line($"  {name} = {value:G6}");
            return outcome.ProcessExitCode;
        }
        catch (ContractException e)
        {
            printer.Line($"{command}: {e.Message}");
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
            printer.Line($"{command} failed: {FailureClassifier.Describe(e)}");
            return (int)JobExitCode.FailedPermanent;
        }
    }

    private static string ReadConfig(string file) =>
        File.Exists(file) ? File.ReadAllText(file) : throw new CliException($"--config '{file}' does not exist");
}

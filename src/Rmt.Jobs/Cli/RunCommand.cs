using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;

namespace Rmt.Jobs.Cli;

/// <summary>`run`: take one job from the job queue (or a job file), run it through
/// <see cref="JobRunner"/>, exit with a <see cref="JobExitCode"/>. What the GPU container and the
/// local host's child processes start.</summary>
public static class RunCommand
{
    public const string Usage = """
        usage: Rmt.GpuJob run [--job-file FILE] [--work-dir DIR] [--wait SECONDS] [--cancel-poll SECONDS] [--keep-work-dir]

        Takes one stage job from the job queue (RMT_JOB_QUEUE on Service Bus when RMT_SERVICEBUS_NAMESPACE
        is set, else on Storage Queues) or from --job-file, claims it, trains or evaluates, and publishes
        stage events. Storage: RMT_STORAGE_CONNECTION_STRING (Azurite) or RMT_BLOB_SERVICE_URI (+ managed identity).

          --job-file FILE     run this StageJob JSON instead of taking a queue message
          --work-dir DIR      local scratch root (default: the temp folder /rmt-jobs)
          --wait SECONDS      how long to wait for a queue message (default 30)
          --cancel-poll SECONDS  how often to check the run's cancel marker (default 15)
          --keep-work-dir     keep the attempt's local folder after success

        exit codes: 0 done (or no message), 2 invalid job (dead-lettered), 3 claimed by another process,
                    4 failed and retryable, 5 failed permanently, 130 cancelled (checkpoint saved)
        signals:    SIGTERM = preemption (checkpoint, failed/cancelled retryable, exit 130);
                    Ctrl+C = user cancel (same, not retryable); a second Ctrl+C aborts at once
        """;

    public static async Task<int> ExecuteAsync(IReadOnlyList<string> args, StageExecutors executors, TextWriter output, TextWriter error)
    {
        CliArgs options;
        try
        {
            options = CliArgs.Parse("run", args, ["job-file", "work-dir", "wait", "cancel-poll"], ["keep-work-dir"]);
        }
        catch (CliException e)
        {
            await error.WriteLineAsync(e.Message);
            return (int)JobExitCode.InvalidJob;
        }
        if (options.Help)
        {
            await output.WriteLineAsync(Usage);
            return 0;
        }

        using var loggers = JobLogging.CreateFactory();
        var logger = loggers.CreateLogger("Rmt.Job");
        string? jobJson = null;
        var jobFile = options.Get("job-file");
        JobRunnerOptions runnerOptions;
        try
        {
            if (jobFile is not null)
                jobJson = File.Exists(jobFile)
                    ? await File.ReadAllTextAsync(jobFile)
                    : throw new CliException($"run: --job-file '{jobFile}' does not exist");
            runnerOptions = new JobRunnerOptions
            {
                WorkRoot = options.Get("work-dir") ?? new JobRunnerOptions().WorkRoot,
                ReceiveWait = TimeSpan.FromSeconds(options.Seconds("wait", 30)),
                CancelPollInterval = TimeSpan.FromSeconds(Math.Max(0.05, options.Seconds("cancel-poll", 15))),
                KeepWorkDir = options.Has("keep-work-dir"),
                Device = Environment.GetEnvironmentVariable(Rmt.Contracts.RmtSettings.Device) is { Length: > 0 } device ? device.Trim() : null,
            };
            runnerOptions.Validate();
        }
        catch (Exception e) when (e is CliException or Rmt.Contracts.ContractException)
        {
            logger.LogError("{Message}", e.Message);
            return (int)JobExitCode.InvalidJob;
        }

        CloudClients cloud;
        try
        {
            cloud = CloudClients.FromEnvironment(loggers);
        }
        catch (CloudConfigurationException e)
        {
            logger.LogError("cannot reach storage and messaging: {Message}", e.Message);
            return (int)JobExitCode.FailedPermanent;
        }

        await using (cloud)
        {
            using var stop = new JobStopSignal();
            using var abort = new CancellationTokenSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                logger.LogWarning("SIGTERM: saving a checkpoint at the next step, then stopping");
                stop.Request(StopReason.Preempted, "stopped by SIGTERM (the platform took the machine back)");
            });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
            {
                context.Cancel = true;
                if (stop.IsRequested)
                {
                    logger.LogWarning("second Ctrl+C: aborting without a checkpoint");
                    abort.Cancel();
                    return;
                }
                logger.LogWarning("Ctrl+C: saving a checkpoint at the next step, then stopping (Ctrl+C again aborts)");
                stop.Request(StopReason.UserCancel, "cancelled by Ctrl+C");
            });

            var printer = new ProgressPrinter(output, interactive: !Console.IsOutputRedirected);
            var runner = new JobRunner(cloud.Artifacts, cloud.Events, executors, runnerOptions, logger) { OnEvent = printer.OnEvent };
            try
            {
                var outcome = jobJson is not null
                    ? await runner.RunJsonAsync(jobJson, jobFile!, stop, abort.Token)
                    : await runner.RunNextAsync(cloud.Jobs, stop, abort.Token);
                logger.LogInformation("exit {Code} ({Name}): {Summary}", outcome.ProcessExitCode, outcome.ExitCode, outcome.Summary);
                return outcome.ProcessExitCode;
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                logger.LogWarning("aborted; the next attempt resumes from the last uploaded checkpoint");
                return (int)JobExitCode.Cancelled;
            }
        }
    }
}

/// <summary>Console logging of the job commands: one line per message with a UTC timestamp, the
/// format container logs (Log Analytics) keep readable.</summary>
public static class JobLogging
{
    public static ILoggerFactory CreateFactory(LogLevel minimum = LogLevel.Information) =>
        LoggerFactory.Create(builder => builder
            .SetMinimumLevel(minimum)
            .AddFilter("Azure", LogLevel.Warning)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "HH:mm:ss ";
            }));
}

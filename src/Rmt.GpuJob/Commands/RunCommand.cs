using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Jobs;

namespace Rmt.GpuJob.Commands;

/// <summary>`run`: take one job from the job queue (or a job file), run it through
/// <see cref="JobRunner"/>, exit with a <see cref="JobExitCode"/>. What the GPU container and the
/// local host's child processes start. Its options are parsed by <see cref="RunJobCommand"/>.</summary>
public static class RunCommand
{
    /// <summary>What `run --help` says below the command's summary (the library lists the options).</summary>
    public const string Usage =
        "Takes one stage job from the job queue (RMT_JOB_QUEUE; Service Bus when RMT_SERVICEBUS_NAMESPACE is set, else Storage Queues)\n" +
        "or from --job-file, claims it, trains or evaluates, publishes stage events. Storage: RMT_STORAGE_CONNECTION_STRING (Azurite)\n" +
        "or RMT_BLOB_SERVICE_URI (+ managed identity). RMT_DEVICE overrides the job's device.\n" +
        "Telemetry: spans and metrics to Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set (managed identity,\n" +
        "AZURE_CLIENT_ID); --trace prints the spans to the console. The trace continues TRACEPARENT, else the job's.\n" +
        "exit codes: 0 done (or no message), 2 invalid job (dead-lettered), 3 claimed by another process,\n" +
        "            4 failed and retryable, 5 failed permanently, 6 given up by the orchestration (stop marker; nothing saved),\n" +
        "            130 cancelled (SIGTERM/Ctrl+C/cancel marker; checkpoint saved)";

    public static async Task<int> ExecuteAsync(RunOptions options, StageExecutors executors, TextWriter output)
    {
        using var loggers = JobLogging.CreateFactory();
        var logger = loggers.CreateLogger("Rmt.Job");
        string? jobJson = null;
        JobRunnerOptions runnerOptions;
        try
        {
            if (options.JobFile is { } file)
                jobJson = File.Exists(file)
                    ? await File.ReadAllTextAsync(file)
                    : throw new ContractException($"run: --job-file '{file}' does not exist");
            runnerOptions = new JobRunnerOptions
            {
                WorkRoot = options.WorkDir ?? new JobRunnerOptions().WorkRoot,
                ReceiveWait = TimeSpan.FromSeconds(Math.Max(0, options.WaitSeconds)),
                CancelPollInterval = TimeSpan.FromSeconds(Math.Max(0.05, options.CancelPollSeconds)),
                KeepWorkDir = options.KeepWorkDir,
                Device = Environment.GetEnvironmentVariable(RmtSettings.Device) is { Length: > 0 } device ? device.Trim() : null,
                TraceParent = Environment.GetEnvironmentVariable(TelemetryNames.TraceParentVariable) is { Length: > 0 } parent ? parent.Trim() : null,
            };
            runnerOptions.Validate();
        }
        catch (ContractException e)
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
            using var signals = JobSignals.Register(stop, abort, logger);
            var printer = new ProgressPrinter(output, interactive: !Console.IsOutputRedirected);
            var runner = new JobRunner(cloud.Artifacts, cloud.Events, executors, runnerOptions, logger) { OnEvent = printer.OnEvent };
            try
            {
                var outcome = jobJson is not null
                    ? await runner.RunJsonAsync(jobJson, options.JobFile!, stop, abort.Token)
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

/// <summary>Options of `run`.</summary>
/// <param name="JobFile">Run this StageJob JSON instead of taking a queue message.</param>
/// <param name="WorkDir">Local scratch root (default: {temp}/rmt-jobs).</param>
/// <param name="WaitSeconds">How long to wait for a queue message.</param>
/// <param name="CancelPollSeconds">How often to check the run's cancel marker.</param>
/// <param name="KeepWorkDir">Keep the attempt's local folder after success.</param>
public sealed record RunOptions(
    string? JobFile = null,
    string? WorkDir = null,
    double WaitSeconds = 30,
    double CancelPollSeconds = 15,
    bool KeepWorkDir = false);

/// <summary>SIGTERM = preemption, Ctrl+C = user cancel: both stop at the next step with a checkpoint.
/// A second Ctrl+C aborts at once.</summary>
public sealed class JobSignals : IDisposable
{
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _interrupt;

    private JobSignals(PosixSignalRegistration term, PosixSignalRegistration interrupt)
    {
        _term = term;
        _interrupt = interrupt;
    }

    public static JobSignals Register(JobStopSignal stop, CancellationTokenSource abort, ILogger logger) => new(
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            logger.LogWarning("SIGTERM: saving a checkpoint at the next step, then stopping");
            stop.Request(StopReason.Preempted, "stopped by SIGTERM (the platform took the machine back)");
        }),
        PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
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
        }));

    public void Dispose()
    {
        _term.Dispose();
        _interrupt.Dispose();
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

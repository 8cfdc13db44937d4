using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Cloud.Azurite;
using Rmt.Contracts;

namespace Rmt.Local.Jobs;

/// <summary>What Azure Container Apps does for a GPU job, on this machine: takes stage jobs off the
/// (Azurite) job queue one at a time and runs each as a child process, `dotnet Rmt.GpuJob.dll run
/// --job-file {file}`, on the CPU. Differences from Azure, on purpose:
/// <list type="bullet">
/// <item>The runner receives the message and hands the child a job file (the container receives it
/// itself); the message is settled once the child runs, as the container settles early.</item>
/// <item>A child that dies without saying so (killed, crashed: an exit code the job never returns) is
/// reported as a retryable 'failed' event, so the orchestration retries at once instead of waiting
/// for its stage timeout, which is what happens in Azure.</item>
/// <item>When the run's cancel marker appears, the child gets <see cref="LocalJobRunnerOptions.CancelGrace"/>
/// to stop by itself (it checks the same marker), then it is killed, with its process tree.</item>
/// </list>
/// The child inherits the storage settings and gets the job's W3C trace context as TRACEPARENT, under
/// a span of this runner, so the trainer's spans continue the pipeline's trace.</summary>
public sealed class LocalJobRunner(
    IJobQueue queue, IStageEventStream events, IArtifactStore artifacts, LocalJobRunnerOptions options, ILogger<LocalJobRunner> log)
    : BackgroundService
{
    /// <summary>Sequence number of the events the runner publishes for a child that could not: far
    /// above any the job itself uses, so it never collides with one and sorts after them.</summary>
    public const long RunnerEventSequence = 1_000_000_000;

    /// <summary>Exit codes of Rmt.GpuJob (every <see cref="JobExitCode"/>) after which the job has published
    /// its own terminal event (or had nothing to publish). Anything else means it died.</summary>
    private static readonly HashSet<int> ReportedExitCodes = [.. Enum.GetValues<JobExitCode>().Select(code => (int)code)];

    private readonly object _gate = new();
    private RunningJob? _current;
    private readonly List<FinishedJob> _finished = [];

    /// <summary>The child running now, if any.</summary>
    public RunningJob? Current
    {
        get { lock (_gate) return _current; }
    }

    /// <summary>Every job this runner finished, oldest first.</summary>
    public IReadOnlyList<FinishedJob> Finished
    {
        get { lock (_gate) return [.. _finished]; }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        options.Validate();
        log.LogInformation("Local job runner: {Command} (work folder {WorkRoot})", options.DescribeCommand(), options.WorkRoot);
        while (!stoppingToken.IsCancellationRequested)
        {
            ReceivedJob? received;
            try
            {
                received = await queue.ReceiveAsync(options.ReceiveWait, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                log.LogWarning("Job queue receive failed ({Error}); trying again", e.Message);
                await Task.Delay(options.ReceiveWait, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }
            if (received is null) continue;
            if (received.Job is null)
            {
                log.LogError("Job message {MessageId} is malformed and goes to the poison queue: {Error}", received.MessageId, received.Error);
                await queue.DeadLetterAsync(received, received.Error ?? "malformed job message", stoppingToken);
                continue;
            }
            await RunChildAsync(received, received.Job, stoppingToken);
        }
    }

    private async Task RunChildAsync(ReceivedJob received, StageJob job, CancellationToken stoppingToken)
    {
        var name = $"{job.RunId}-{job.Stage}-{job.Attempt.ToString(CultureInfo.InvariantCulture)}";
        var jobFile = Path.Combine(options.WorkRoot, "jobs", name + ".json");
        var logFile = Path.Combine(options.WorkRoot, "logs", name + ".log");
        Directory.CreateDirectory(Path.GetDirectoryName(jobFile)!);
        Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
        await File.WriteAllTextAsync(jobFile, RmtJson.Serialize(job, indented: true), stoppingToken);

        using var span = LocalTelemetry.Source.StartActivity("rmt.local.job", ActivityKind.Internal,
            job.TraceParent is not null && ActivityContext.TryParse(job.TraceParent, null, out var parent) ? parent : default);
        span?.SetTag("rmt.run_id", job.RunId);
        span?.SetTag("rmt.stage", job.Stage);
        span?.SetTag("rmt.attempt", job.Attempt);
        var traceParent = span?.Id ?? job.TraceParent;

        var info = options.StartInfo(jobFile, traceParent);
        var started = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        await using var logWriter = new StreamWriter(logFile, append: true) { AutoFlush = true };
        var tail = new LogTail(40);
        void OnLine(string? line)
        {
            if (line is null) return;
            tail.Add(line);
            lock (logWriter) logWriter.WriteLine(line);
            log.LogDebug("[{Job}] {Line}", name, line);
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);

        try
        {
            process.Start();
        }
        catch (Exception e)
        {
            // Nothing ran: leave the message for a later delivery (it returns after its visibility timeout).
            log.LogError("Could not start the job process for {MessageId}: {Error}", job.MessageId, e.Message);
            return;
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var running = new RunningJob(job, process.Id, DateTimeOffset.UtcNow, jobFile, logFile);
        lock (_gate) _current = running;
        log.LogInformation("Job {MessageId} ({Kind}) started as process {Pid}; log {LogFile}", job.MessageId, job.Kind.ToName(), process.Id, logFile);

        // The child owns the job now; settle the message early, as the container does.
        try
        {
            await queue.CompleteAsync(received, stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning("Could not settle job message {MessageId} ({Error}); the job's claim stops a second run", job.MessageId, e.Message);
        }

        var stop = await WatchAsync(process, job, stoppingToken);
        await process.WaitForExitAsync(CancellationToken.None);
        var exitCode = process.ExitCode;
        var finished = new FinishedJob(job, process.Id, exitCode, started.Elapsed, stop, logFile);
        lock (_gate)
        {
            _current = null;
            _finished.Add(finished);
        }
        span?.SetTag("rmt.exit_code", exitCode);

        if (!ReportedExitCodes.Contains(exitCode))
        {
            var failure = stop switch
            {
                StopCause.Cancelled => new StageFailure(FailureKind.Cancelled, "the run was cancelled; the local job runner stopped the job process", Retryable: false),
                StopCause.HostStopping => new StageFailure(FailureKind.Infrastructure, "the local host stopped while the job ran; a new attempt resumes from the last checkpoint", Retryable: true),
                _ => new StageFailure(FailureKind.Infrastructure,
                    $"the job process exited with code {exitCode} without reporting (killed or crashed); last output: {tail.Last(3)}", Retryable: true),
            };
            await ReportAsync(job, failure, traceParent);
        }
        log.LogInformation("Job {MessageId} ended with exit code {ExitCode} after {Seconds:0.0} s{Stop}",
            job.MessageId, exitCode, started.Elapsed.TotalSeconds, stop == StopCause.None ? "" : $" ({stop})");
    }

    /// <summary>Waits for the child; stops it when its run is cancelled or the host shuts down.</summary>
    private async Task<StopCause> WatchAsync(Process process, StageJob job, CancellationToken stoppingToken)
    {
        var marker = BlobLayout.CancelMarker(job.RunId);
        while (!process.HasExited)
        {
            try
            {
                await process.WaitForExitAsync(stoppingToken).WaitAsync(options.CancelCheckInterval, stoppingToken);
                return StopCause.None;
            }
            catch (TimeoutException)
            {
                // check the cancel marker below
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                log.LogWarning("Host stopping: asking job {MessageId} (process {Pid}) to stop", job.MessageId, process.Id);
                await StopAsync(process, options.ShutdownGrace);
                return StopCause.HostStopping;
            }

            bool cancelled;
            try
            {
                cancelled = await artifacts.ExistsAsync(marker, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogDebug("Cancel marker check failed ({Error}); checking again later", e.Message);
                continue;
            }
            if (cancelled)
            {
                log.LogInformation("Run {RunId} was cancelled: stopping job {MessageId} (process {Pid})", job.RunId, job.MessageId, process.Id);
                await StopAsync(process, options.CancelGrace);
                return StopCause.Cancelled;
            }
        }
        return StopCause.None;
    }

    /// <summary>SIGTERM, then SIGKILL of the whole tree after <paramref name="grace"/>.</summary>
    private static async Task StopAsync(Process process, TimeSpan grace)
    {
        if (process.HasExited) return;
        PosixSignal.Terminate(process.Id);
        using var wait = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // exited meanwhile
            }
        }
    }

    private async Task ReportAsync(StageJob job, StageFailure failure, string? traceParent)
    {
        var stageEvent = new StageEvent(job.RunId, job.Stage, job.Attempt, RunnerEventSequence, DateTimeOffset.UtcNow,
            StageEventKind.Failed, failure.Message, Failure: failure, TraceParent: traceParent);
        try
        {
            await events.PublishAsync(stageEvent, CancellationToken.None);
            log.LogWarning("Reported job {MessageId} as failed ({Kind}, retryable {Retryable}): {Message}",
                job.MessageId, failure.Kind, failure.Retryable, failure.Message);
        }
        catch (Exception e)
        {
            log.LogError("Could not report the end of job {MessageId} ({Error}); the stage times out instead", job.MessageId, e.Message);
        }
    }

    private sealed class LogTail(int capacity)
    {
        private readonly Queue<string> _lines = new();

        public void Add(string line)
        {
            lock (_lines)
            {
                _lines.Enqueue(line);
                while (_lines.Count > capacity) _lines.Dequeue();
            }
        }

        public string Last(int count)
        {
            lock (_lines)
            {
                var last = _lines.Skip(Math.Max(0, _lines.Count - count)).ToList();
                return last.Count == 0 ? "(none)" : string.Join(" | ", last);
            }
        }
    }
}

/// <summary>Why the runner stopped a child before it ended by itself.</summary>
public enum StopCause
{
    None,
    Cancelled,
    HostStopping,
}

public sealed record RunningJob(StageJob Job, int ProcessId, DateTimeOffset StartedAt, string JobFile, string LogFile);

public sealed record FinishedJob(StageJob Job, int ProcessId, int ExitCode, TimeSpan Duration, StopCause Stop, string LogFile);

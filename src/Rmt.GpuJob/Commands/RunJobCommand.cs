using System.CommandLine;
using Rmt.GpuJob.Telemetry;
using Rmt.Jobs.Executors;

namespace Rmt.GpuJob.Commands;

/// <summary>`run`: one stage job from the job queue or --job-file, through Rmt.Jobs' JobRunner
/// (claim, events, checkpoints, resume, report). What the container and the local host start. Its spans
/// and metrics go where <see cref="JobTelemetrySettings"/> says (Azure Monitor, --trace: the console).
/// <see cref="RunCommand"/> runs it.</summary>
public static class RunJobCommand
{
    public static Command Create()
    {
        var jobFileOption = new Option<string>("--job-file") { Description = "run this StageJob JSON instead of taking a queue message", HelpName = "FILE" };
        var workDirOption = new Option<string>("--work-dir") { Description = "local scratch root (default: {temp}/rmt-jobs)", HelpName = "DIR" };
        var waitOption = new Option<double>("--wait") { Description = "seconds to wait for a queue message", HelpName = "SECONDS", DefaultValueFactory = _ => 30 };
        var cancelPollOption = new Option<double>("--cancel-poll") { Description = "seconds between checks of the run's cancel marker", HelpName = "SECONDS", DefaultValueFactory = _ => 15 };
        var keepWorkDirOption = new Option<bool>("--keep-work-dir") { Description = "keep the attempt's local folder after success" };
        var traceOption = new Option<bool>("--trace") { Description = "print the job's spans to the console" };
        var command = new Command("run", "take one stage job from the queue (or --job-file) and run it: claim, train, checkpoint, report, stage events")
        {
            jobFileOption, workDirOption, waitOption, cancelPollOption, keepWorkDirOption, traceOption,
        };
        command.SetAction(async (parse, _) =>
        {
            var options = new RunOptions(
                JobFile: parse.GetValue(jobFileOption),
                WorkDir: parse.GetValue(workDirOption),
                WaitSeconds: parse.GetValue(waitOption),
                CancelPollSeconds: parse.GetValue(cancelPollOption),
                KeepWorkDir: parse.GetValue(keepWorkDirOption));
            var telemetry = JobTelemetrySettings.FromEnvironment(console: parse.GetValue(traceOption));
            using var export = JobTelemetryExport.Start(telemetry);
            return await RunCommand.ExecuteAsync(options, StageExecutorCatalog.All(), parse.InvocationConfiguration.Output);
        });
        return command;
    }
}

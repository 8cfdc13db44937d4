using Rmt.GpuJob.Telemetry;
using Rmt.Jobs.Cli;
using Rmt.Jobs.Executors;

namespace Rmt.GpuJob.Commands;

/// <summary>`run`: one stage job from the job queue or --job-file, through Rmt.Jobs' JobRunner
/// (claim, events, checkpoints, resume, report). What the container and the local host start. Its spans
/// and metrics go where <see cref="JobTelemetrySettings"/> says (Azure Monitor, --trace: the console).</summary>
public sealed class RunJobCommand : ICommand
{
    public string Name => "run";
    public string Summary => "take one stage job from the queue (or --job-file) and run it: claim, train, checkpoint, report, stage events";
    public string Usage => RunCommand.Usage;

    public int Run(CommandArgs args, TextWriter output)
    {
        var options = new RunOptions(
            JobFile: args.Optional("job-file"),
            WorkDir: args.Optional("work-dir"),
            WaitSeconds: args.Double("wait", 30),
            CancelPollSeconds: args.Double("cancel-poll", 15),
            KeepWorkDir: args.Flag("keep-work-dir"));
        var telemetry = JobTelemetrySettings.FromEnvironment(console: args.Flag("trace"));
        args.EnsureAllUsed();
        using var export = JobTelemetryExport.Start(telemetry);
        return RunCommand.ExecuteAsync(options, StageExecutorCatalog.All(), output).GetAwaiter().GetResult();
    }
}

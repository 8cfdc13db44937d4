using Rmt.Jobs.Cli;
using Rmt.Jobs.Executors;

namespace Rmt.GpuJob.Commands;

/// <summary>`train`: one stage on local folders with the executors of `run`, resumable from --out.</summary>
public sealed class TrainStageCommand : ICommand
{
    public string Name => "train";
    public string Summary => "train a stage (pretrain, mid-train, post-train) on local files, with progress and resumable checkpoints in --out";
    public string Usage => LocalCommands.TrainUsage;

    public int Run(CommandArgs args, TextWriter output)
    {
        var options = new TrainOptions(
            Kind: args.Required("kind"),
            Dataset: args.Required("dataset"),
            Out: args.Required("out"),
            Base: args.Optional("base"),
            EvalDataset: args.Optional("eval-dataset"),
            ConfigFile: args.Optional("config"),
            Steps: args.Optional("steps") is null ? null : args.Int("steps", 0),
            Device: args.Optional("device"));
        args.EnsureAllUsed();
        return LocalCommands.TrainAsync(options, StageExecutorCatalog.All(), output, Console.Error).GetAwaiter().GetResult();
    }
}

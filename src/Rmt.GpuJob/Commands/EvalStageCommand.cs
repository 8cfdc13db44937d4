using Rmt.Jobs.Cli;
using Rmt.Jobs.Executors;

namespace Rmt.GpuJob.Commands;

/// <summary>`eval`: the eval stage's evaluators on a local checkpoint and dataset.</summary>
public sealed class EvalStageCommand : ICommand
{
    public string Name => "eval";
    public string Summary => "evaluate a local checkpoint on a held-out dataset; report.md and result.json in --out";
    public string Usage => LocalCommands.EvalUsage;

    public int Run(CommandArgs args, TextWriter output)
    {
        var options = new EvalOptions(
            Checkpoint: args.Required("checkpoint"),
            Dataset: args.Required("dataset"),
            Out: args.Required("out"),
            ConfigFile: args.Optional("config"),
            MaxExamples: args.Optional("max-examples") is null ? null : args.Int("max-examples", 0),
            Device: args.Optional("device"));
        args.EnsureAllUsed();
        return LocalCommands.EvalAsync(options, StageExecutorCatalog.All(), output, Console.Error).GetAwaiter().GetResult();
    }
}

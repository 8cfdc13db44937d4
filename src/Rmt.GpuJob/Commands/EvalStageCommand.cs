using System.CommandLine;
using Rmt.Jobs.Executors;

namespace Rmt.GpuJob.Commands;

/// <summary>`eval`: the eval stage's evaluators on a local checkpoint and dataset.
/// <see cref="LocalCommands"/> runs it.</summary>
public static class EvalStageCommand
{
    public static Command Create()
    {
        var checkpointOption = new Option<string>("--checkpoint") { Description = "the checkpoint folder to evaluate", HelpName = "DIR", Required = true };
        var datasetOption = new Option<string>("--dataset") { Description = "held-out data", HelpName = "FILE", Required = true };
        var outOption = new Option<string>("--out") { Description = "report.md and result.json go here", HelpName = "DIR", Required = true };
        var configOption = new Option<string>("--config") { Description = "the EvalConfig as JSON", HelpName = "FILE" };
        var maxExamplesOption = new Option<int?>("--max-examples") { Description = "overrides maxExamples", HelpName = "N" };
        var deviceOption = new Option<string>("--device") { Description = "overrides device", HelpName = "cpu|cuda" };
        var command = new Command("eval", "evaluate a local checkpoint on a held-out dataset; report.md and result.json in --out")
        {
            checkpointOption, datasetOption, outOption, configOption, maxExamplesOption, deviceOption,
        };
        command.SetAction((parse, _) =>
        {
            var options = new EvalOptions(
                Checkpoint: parse.GetRequiredValue(checkpointOption),
                Dataset: parse.GetRequiredValue(datasetOption),
                Out: parse.GetRequiredValue(outOption),
                ConfigFile: parse.GetValue(configOption),
                MaxExamples: parse.GetValue(maxExamplesOption),
                Device: parse.GetValue(deviceOption));
            return LocalCommands.EvalAsync(options, StageExecutorCatalog.All(), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }
}

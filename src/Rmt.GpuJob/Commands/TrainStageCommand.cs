using System.CommandLine;
using Rmt.Jobs.Executors;

namespace Rmt.GpuJob.Commands;

/// <summary>`train`: one stage on local folders with the executors of `run`, resumable from --out.
/// <see cref="LocalCommands"/> runs it.</summary>
public static class TrainStageCommand
{
    public static Command Create()
    {
        var kindOption = new Option<string>("--kind") { Description = "the stage to train", HelpName = "pretrain|mid-train|post-train", Required = true };
        var datasetOption = new Option<string>("--dataset") { Description = "training data (text corpus; GSM8K-style jsonl for post-train)", HelpName = "FILE", Required = true };
        var outOption = new Option<string>("--out") { Description = "checkpoints/step-N, metrics.jsonl, report.md, plots/; the same --out resumes", HelpName = "DIR", Required = true };
        var baseOption = new Option<string>("--base") { Description = "starting checkpoint folder; needed except for pretrain", HelpName = "DIR" };
        var evalDatasetOption = new Option<string>("--eval-dataset") { Description = "held-out data for the stage's own evaluation", HelpName = "FILE" };
        var configOption = new Option<string>("--config") { Description = "the stage config as JSON (PretrainConfig, MidTrainConfig or PostTrainConfig)", HelpName = "FILE" };
        var stepsOption = new Option<int?>("--steps") { Description = "overrides schedule.steps", HelpName = "N" };
        var deviceOption = new Option<string>("--device") { Description = "overrides schedule.device", HelpName = "cpu|cuda" };
        var command = new Command("train", "train a stage (pretrain, mid-train, post-train) on local files, with progress and resumable checkpoints in --out")
        {
            kindOption, datasetOption, outOption, baseOption, evalDatasetOption, configOption, stepsOption, deviceOption,
        };
        command.SetAction((parse, _) =>
        {
            var options = new TrainOptions(
                Kind: parse.GetRequiredValue(kindOption),
                Dataset: parse.GetRequiredValue(datasetOption),
                Out: parse.GetRequiredValue(outOption),
                Base: parse.GetValue(baseOption),
                EvalDataset: parse.GetValue(evalDatasetOption),
                ConfigFile: parse.GetValue(configOption),
                Steps: parse.GetValue(stepsOption),
                Device: parse.GetValue(deviceOption));
            return LocalCommands.TrainAsync(options, StageExecutorCatalog.All(), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }
}

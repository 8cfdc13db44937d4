using Microsoft.Extensions.Logging;
using Rmt.Contracts;
using Rmt.Training.PostTraining;

namespace Rmt.Jobs.Executors;

/// <summary>post-train: math GRPO with verifiable rewards, the math stage's <see cref="PostTrainStage"/>
/// run inside the job. The stage keeps its own cadence (checkpoints every CheckpointEvery steps and at
/// the end, held-out evaluation before and after); each checkpoint it writes is uploaded as it
/// appears, each step becomes progress. It resumes from the newest checkpoint the job downloaded
/// (placed where the stage looks for it). A stop request ends the stage at the next step; its last
/// checkpoint is the newest one of the cadence (the stage saves no extra one).</summary>
public sealed class PostTrainExecutor : IStageExecutor
{
    public StageKind Kind => StageKind.PostTrain;

    public long TotalSteps(StageJob job) => Config(job).Schedule.Steps;

    public async Task<StageOutcome> RunAsync(StageContext context, CancellationToken ct)
    {
        var config = Config(context.Job);
        config = config with { Schedule = config.Schedule with { Device = context.DeviceFor(config.Schedule.Device) } };
        var baseDir = context.RequiredBaseCheckpointDir;
        var outputDir = Path.Combine(context.WorkDir, "post-train");
        if (Directory.Exists(outputDir)) Directory.Delete(outputDir, recursive: true);
        Directory.CreateDirectory(outputDir);
        if (context.Resume is { } resume)
            Folders.Copy(resume.LocalDir, Path.Combine(outputDir, $"step-{resume.Checkpoint.Step}"));
        var inputs = new PostTrainInputs(baseDir, StageData.SingleFile(context.DatasetPath, "post-train dataset"),
            context.EvalDatasetPath is null ? null : StageData.SingleFile(context.EvalDatasetPath, "post-train eval dataset"), outputDir);

        var hooks = new PostTrainCallbacks
        {
            Log = message => context.Logger.LogInformation("{Message}", message),
            // The stage calls these on its own thread (below), never on a synchronization context, so waiting is safe.
            Step = m => context.ReportAsync(new StepMetrics(m.Step, Loss: m.Loss, Reward: m.Reward, Accuracy: m.Correct,
                ReasoningLength: m.CompletionTokens,
                TokensPerSecond: m.Seconds > 0 ? m.CompletionTokens * config.Schedule.BatchSize * config.GroupSize / m.Seconds : null), ct).GetAwaiter().GetResult(),
            CheckpointSaved = (step, dir) => context.SaveCheckpointAsync(step, target => Folders.Copy(dir, target), ct).GetAwaiter().GetResult(),
        };
        PostTrainResult result;
        try
        {
            result = await Task.Run(() => new PostTrainStage(config, hooks).Run(inputs, ct), ct);
        }
        catch (PostTrainException e)
        {
            throw new ContractException($"post-train: {e.Message}", e);
        }

        var reportDir = Path.GetDirectoryName(result.ReportPath)!;
        var plots = Directory.GetFiles(reportDir, "*.png").Order(StringComparer.Ordinal).ToList();
        var section = File.ReadAllText(result.ReportPath).Replace("# Math post-training", "## Math post-training", StringComparison.Ordinal);
        foreach (var plot in plots)
        {
            var name = Path.GetFileName(plot);
            section = section.Replace($"]({name})", $"](plots/{name})", StringComparison.Ordinal);
        }
        var metrics = new Dictionary<string, double>(result.Metrics)
        {
            ["steps"] = config.Schedule.Steps,
            ["train_problems"] = result.TrainProblems,
            ["held_out_problems"] = result.HeldOutProblems,
        };
        return new StageOutcome(config.Schedule.Steps, metrics, HasCheckpoint: true, [section], plots);
    }

    private static PostTrainConfig Config(StageJob job) =>
        job.PostTrain ?? throw new ContractException("stage job of kind 'post-train' has no 'postTrain' config; add it");
}

/// <summary>Copying checkpoint folders.</summary>
public static class Folders
{
    public static void Copy(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination, overwrite: true);
        }
    }
}

using System.Globalization;
using Microsoft.Extensions.Logging;
using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.PostTraining;

namespace Rmt.Jobs.Executors;

/// <summary>post-train: math GRPO with verifiable rewards (<see cref="MathGrpoTrainer"/>), driven step by
/// step like mid-training. Loads and checks the base checkpoint and the problems
/// (<see cref="PostTrainSetup"/>), scores the base on held-out problems, runs the format warm-up, then
/// GRPO: every step goes through <see cref="StageContext.AfterStepAsync"/> (progress, checkpoints at the
/// job's cadence, stop requests), held-out scores every EvalEvery steps and at the end. The KL reference
/// is the policy after the warm-up; a resumed stage loads the checkpoint's weights and trainer state and
/// rebuilds the reference by replaying the seeded warm-up on the base.</summary>
public sealed class PostTrainExecutor : IStageExecutor
{
    public StageKind Kind => StageKind.PostTrain;

    public long TotalSteps(StageJob job) => Config(job).Schedule.Steps;

    public async Task<ExecutorOutcome> RunAsync(StageContext context, CancellationToken ct)
    {
        var config = Config(context.Job);
        config = config with { Schedule = config.Schedule with { Device = context.DeviceFor(config.Schedule.Device) } };
        var inputs = new PostTrainInputs(context.RequiredBaseCheckpointDir, StageData.SingleFile(context.DatasetPath, "post-train dataset"),
            context.EvalDatasetPath is null ? null : StageData.SingleFile(context.EvalDatasetPath, "post-train eval dataset"));
        try
        {
            return await PostTrainAsync(context, config, inputs, ct);
        }
        catch (PostTrainException e)
        {
            throw new ContractException($"post-train: {e.Message}", e);
        }
    }

    private static async Task<ExecutorOutcome> PostTrainAsync(StageContext context, PostTrainConfig config, PostTrainInputs inputs, CancellationToken ct)
    {
        void Log(string message) => context.Logger.LogInformation("{Message}", message);
        var device = Devices.Parse(config.Schedule.Device);
        var (policy, tokenizer) = PostTrainSetup.LoadBase(inputs.BaseCheckpoint, device);
        using var policyOwner = policy;
        var (train, heldOut, dropped) = PostTrainSetup.LoadProblems(config, inputs, tokenizer, policy.Config.MaxPositionEmbeddings);
        Log($"problems: {train.Count} train, {heldOut.Count} held out, {dropped} dropped (longer than the context allows)");
        var evaluator = new MathEvaluator(policy, tokenizer, config.MaxNewTokens, config.Temperature, config.PassAtK, config.EvalSamples);
        var evalSeed = config.Schedule.Seed + 1;
        var before = evaluator.Evaluate(heldOut, evalSeed);
        var evaluations = new List<PostTrainEvaluation> { new(0, before) };
        Log(Scores("base", before));

        using var reference = config.Grpo.KlWeight > 0 ? ModelIO.Load(inputs.BaseCheckpoint, device) : null;
        MathEvaluation? afterWarmup = null;
        int? warmupSteps = null;
        if (context.Resume is { } resume)
        {
            PostTrainSetup.LoadWeights(policy, resume.LocalDir);
            if (reference is not null && config.FormatWarmupSteps > 0)
            {
                Log("rebuilding the KL reference: replaying the format warm-up on the base checkpoint");
                warmupSteps = PostTrainSetup.FormatWarmup(config, reference, tokenizer, train, Log);
            }
        }
        else
        {
            if (config.FormatWarmupSteps > 0)
            {
                warmupSteps = PostTrainSetup.FormatWarmup(config, policy, tokenizer, train, Log);
                afterWarmup = evaluator.Evaluate(heldOut, evalSeed);
                Log(Scores($"after format warm-up ({warmupSteps} steps)", afterWarmup));
            }
            if (reference is not null) PostTrainSetup.CopyWeights(policy, reference);
        }

        using var trainer = new MathGrpoTrainer(policy, reference, tokenizer, train, config);
        if (context.Resume is { } from)
        {
            trainer.RestoreState(from.LocalDir);
            context.Logger.LogResume(from.Checkpoint.Step, trainer.Step);
        }
        void Save(string dir) => trainer.SaveCheckpoint(dir);
        var steps = new List<MathStepMetrics>();
        while (trainer.Step < config.Schedule.Steps)
        {
            ct.ThrowIfCancellationRequested();
            var m = trainer.TrainStep();
            steps.Add(m);
            if (m.Step % config.Schedule.ProgressEvery == 0)
                Log(string.Create(CultureInfo.InvariantCulture,
                    $"step {m.Step}/{config.Schedule.Steps}: reward {m.Reward:F3} correct {m.Correct:P1} format {m.Format:P1} tokens {m.CompletionTokens:F1} loss {m.Loss:F4} lr {m.LearningRate:G3}"));
            if (config.EvalEvery > 0 && m.Step % config.EvalEvery == 0 && m.Step < config.Schedule.Steps)
                evaluations.Add(new PostTrainEvaluation(m.Step, evaluator.Evaluate(heldOut, evalSeed)));
            await context.AfterStepAsync(context.Progress(m.Step, loss: m.Loss, reward: m.Reward, accuracy: m.Correct, reasoningLength: m.CompletionTokens,
                tokensPerSecond: m.Seconds > 0 ? m.CompletionTokens * config.Schedule.BatchSize * config.GroupSize / m.Seconds : null), Save, ct);
        }
        await context.SaveFinalCheckpointAsync(trainer.Step, Save, ct);

        var after = evaluator.Evaluate(heldOut, evalSeed);
        evaluations.Add(new PostTrainEvaluation(trainer.Step, after));
        Log(Scores($"after {trainer.Step} steps", after));
        var result = new PostTrainResult(before, after, steps, evaluations, train.Count, heldOut.Count, dropped, afterWarmup, warmupSteps);
        var (section, plots, resultFile) = PostTrainReport.Write(result, config, inputs, Path.Combine(context.WorkDir, "post-train"));
        var metrics = new Dictionary<string, double>(result.Metrics)
        {
            ["steps"] = config.Schedule.Steps,
            ["train_problems"] = result.TrainProblems,
            ["held_out_problems"] = result.HeldOutProblems,
        };
        return new ExecutorOutcome(trainer.Step, metrics, HasCheckpoint: true, [section], plots, [resultFile]);
    }

    private static string Scores(string when, MathEvaluation e) =>
        string.Create(CultureInfo.InvariantCulture, $"{when}: accuracy {e.Accuracy:P1}, sampled {e.SampledAccuracy:P1}, pass@{e.K} {e.PassAtK:P1}, format {e.FormatRate:P1}");

    private static PostTrainConfig Config(StageJob job) =>
        job.PostTrain ?? throw new ContractException("stage job of kind 'post-train' has no 'postTrain' config; add it");
}

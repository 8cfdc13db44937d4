using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.PostTraining;
using Rmt.Training.Tokenizers;
using Rmt.Testing;
using Rmt.Training.Optimization;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Rmt.Training.Tests.PostTraining;

/// <summary>A tiny run of GRPO with verifiable rewards raises held-out accuracy on a problem set
/// built to be learnable in seconds, and does not leak tensors.</summary>
public sealed class MathGrpoTrainerTests(ITestOutputHelper output)
{
    [Fact]
    public void Grpo_raises_held_out_accuracy_on_a_learnable_problem_set()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var (model, tokenizer, train, heldOut) = MathBases.PretrainedBase();
        using var _ = model;
        output.WriteLine($"pretrained in {watch.Elapsed.TotalSeconds:F1}s");
        var config = new PostTrainConfig(
            new TrainingSchedule(Steps: 20, BatchSize: 4, LearningRate: 1e-3, WarmupSteps: 0, WeightDecay: 0.0, Seed: 8),
            GroupSize: 8, MaxNewTokens: 24, FormatRewardWeight: 0.1, PassAtK: 2, EvalSamples: 4, Grpo: new GrpoConfig(KlWeight: 0.0));
        var evaluator = new MathEvaluator(model, tokenizer, config.MaxNewTokens, config.Temperature, config.PassAtK, config.EvalSamples);
        var before = evaluator.Evaluate(heldOut, seed: 9);
        output.WriteLine($"before: greedy {before.Accuracy:P0}, pass@2 {before.PassAtK:P0}, sampled {before.SampledAccuracy:P0}, format {before.FormatRate:P0}; e.g. {before.Examples[0].Completion}");

        using var trainer = new MathGrpoTrainer(model, null, tokenizer, train, config);
        long live = 0;
        for (var i = 0; i < config.Schedule.Steps; i++)
        {
            var m = trainer.TrainStep();
            if (i == 2) live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            output.WriteLine($"step {m.Step}: reward {m.Reward:F2} correct {m.Correct:P0} format {m.Format:P0} loss {m.Loss:F3} grad {m.GradNorm:F2} {m.Seconds:F2}s");
        }
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        var after = evaluator.Evaluate(heldOut, seed: 9);
        output.WriteLine($"after: greedy {after.Accuracy:P0}, pass@2 {after.PassAtK:P0}, sampled {after.SampledAccuracy:P0}, format {after.FormatRate:P0}; e.g. {after.Examples[0].Completion}");
        output.WriteLine($"total {watch.Elapsed.TotalSeconds:F1}s");

        Assert.True(before.Accuracy <= 0.2, $"the base model should answer wrong greedily, got {before.Accuracy:P0}");
        Assert.True(after.Accuracy >= before.Accuracy + 0.5, $"held-out greedy accuracy went {before.Accuracy:P0} -> {after.Accuracy:P0}");
        Assert.True(after.SampledAccuracy > before.SampledAccuracy, $"sampled accuracy went {before.SampledAccuracy:P0} -> {after.SampledAccuracy:P0}");
    }

    [Fact]
    public void Resumed_run_equals_an_uninterrupted_run()
    {
        var (model, tokenizer, train, _) = MathBases.PretrainedBase(steps: 60);
        var dir = Path.Combine(Path.GetTempPath(), "rmt-post-train-tests", $"resume-{Guid.NewGuid():N}");
        using (model) Checkpoint.Save(Path.Combine(dir, "base"), model, tokenizer);
        var config = new PostTrainConfig(
            new TrainingSchedule(Steps: 4, BatchSize: 2, LearningRate: 1e-3, WarmupSteps: 1, WeightDecay: 0.0, Seed: 3),
            GroupSize: 4, MaxNewTokens: 24, Grpo: new GrpoConfig(KlWeight: 0.0));

        using var straightModel = ModelIO.Load(Path.Combine(dir, "base"));
        using var straight = new MathGrpoTrainer(straightModel, null, tokenizer, train, config);
        var straightSteps = Enumerable.Range(0, 4).Select(_ => straight.TrainStep()).ToList();
        Assert.True(straightSteps[2].Updated || straightSteps[3].Updated, "no update after the resume point: the test would prove nothing");

        using (var firstModel = ModelIO.Load(Path.Combine(dir, "base")))
        using (var first = new MathGrpoTrainer(firstModel, null, tokenizer, train, config))
        {
            for (var i = 0; i < 2; i++) Assert.Equal(straightSteps[i].Loss, first.TrainStep().Loss);
            Checkpoint.Save(Checkpoint.StepDir(dir, 2), firstModel, tokenizer, first.State(), first.Optimizer);
        }
        TorchSharp.torch.random.manual_seed(999);   // disturb the global RNG: resume must restore it
        using var resumedModel = ModelIO.Load(Checkpoint.StepDir(dir, 2));
        using var resumed = new MathGrpoTrainer(resumedModel, null, tokenizer, train, config);
        resumed.RestoreState(Checkpoint.StepDir(dir, 2));
        Assert.Equal(2, resumed.Step);
        for (var i = 2; i < 4; i++)
        {
            var step = resumed.TrainStep();
            Assert.Equal(straightSteps[i].Reward, step.Reward);
            Assert.Equal(straightSteps[i].Loss, step.Loss);
        }
        foreach (var ((name, a), (_, b)) in straightModel.named_parameters().Zip(resumedModel.named_parameters()))
            Assert.True(a.bytes.SequenceEqual(b.bytes), $"{name} differs between the resumed and the uninterrupted run");
        Directory.Delete(dir, recursive: true);
    }
}

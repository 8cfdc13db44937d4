using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.MidTraining;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Tests.MidTraining;

[Collection(TinyReasonerCollection.Name)]
public sealed class RmtTrainerTests(TinyReasoner reasoner)
{
    /// <summary>The remaining steps, one at a time, as the mid-train executor drives the trainer.</summary>
    internal static void TrainToEnd(RmtTrainer trainer)
    {
        while (trainer.Step < trainer.Config.Schedule.Steps) trainer.TrainStep();
    }

    private static MidTrainConfig Config(MidTrainConfig preset, int steps, double lr = 3e-3, int batch = 4) => preset with
    {
        Schedule = new TrainingSchedule(Steps: steps, BatchSize: batch, LearningRate: lr, WarmupSteps: 0, ProgressEvery: 2, CheckpointEvery: 1000, Seed: 11),
        ContextTokens = TinyReasoner.Context.Length,
        NtpTailTokens = 2,
        Budget = preset.Budget with { Initial = 6, Minimum = 2 },
        Rollout = preset.Rollout with { MaxReasoningTokens = 12 },
    };

    [Fact]
    public void Parameters_change_after_one_step()
    {
        using var model = reasoner.Load();
        var (tokens, entropies) = TinyReasoner.AnswerCorpus();
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        using var trainer = new RmtTrainer(Config(MidTrainPresets.Rmt(), 5), model, TinyReasoner.Tokenizer, tokens, entropies);
        var stats = trainer.TrainStep();
        Assert.Equal(1, trainer.Step);
        Assert.True(double.IsFinite(stats.Loss.Total));
        Assert.True(stats.Loss.Ntp > 0);
        var after = model.parameters().ToList();
        int changed = before.Zip(after).Count(pair => !pair.First.allclose(pair.Second, rtol: 0, atol: 0));
        Assert.True(changed > after.Count / 2, $"only {changed} of {after.Count} parameter tensors changed");
        foreach (var p in before) p.Dispose();
    }

    [Fact]
    public void One_batch_overfit_raises_the_reward()
    {
        using var model = reasoner.Load();
        var (tokens, entropies) = TinyReasoner.AnswerCorpus('z');
        var config = Config(MidTrainPresets.Rpt(), 25, lr: 5e-3);                 // RL only, one key position
        using var trainer = new RmtTrainer(config, model, TinyReasoner.Tokenizer, tokens, entropies);
        TrainToEnd(trainer);
        var history = trainer.History;
        double first = history.Take(5).Average(s => s.Reward);
        double last = history.TakeLast(5).Average(s => s.Reward);
        Assert.True(first < 0.6, $"the untrained model should not already answer 'z' (first reward {first:F2})");
        Assert.True(last > first + 0.25, $"reward did not rise: first {first:F2}, last {last:F2}");
        Assert.True(history[^1].WellFormed > 0.8);
    }

    [Fact]
    public void Live_tensor_count_stays_flat_over_steps()
    {
        using var model = reasoner.Load();
        var (tokens, entropies) = TinyReasoner.AnswerCorpus();
        using var trainer = new RmtTrainer(Config(MidTrainPresets.Rmt(), 8) with { Grpo = new GrpoConfig(KlWeight: 0.1, UpdatesPerBatch: 2) },
            model, TinyReasoner.Tokenizer, tokens, entropies, reference: reasoner.Load());
        trainer.TrainStep();
        trainer.TrainStep();                                                      // optimizer state exists now
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 4; i++) trainer.TrainStep();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Theory]
    [InlineData(MidTrainPresets.RmtName)]
    [InlineData(MidTrainPresets.RptName)]
    [InlineData(MidTrainPresets.NoBudgetName)]
    [InlineData(MidTrainPresets.NoCurriculumName)]
    [InlineData(MidTrainPresets.NoNtpName)]
    [InlineData(MidTrainPresets.NtpContinuedName)]
    public void Every_preset_runs_a_few_steps(string preset)
    {
        using var model = reasoner.Load();
        var (tokens, entropies) = TinyReasoner.AnswerCorpus();
        using var trainer = new RmtTrainer(Config(MidTrainPresets.Get(preset), 3, batch: 2), model, TinyReasoner.Tokenizer, tokens, entropies);
        TrainToEnd(trainer);
        Assert.Equal(3, trainer.History.Count);
        Assert.All(trainer.History, s => Assert.True(double.IsFinite(s.Loss.Total)));
        var config = trainer.Config;
        Assert.All(trainer.History, s => Assert.Equal(config.Budget.Enabled && config.Reinforcement, s.Budget is not null));
    }

    [Fact]
    public void Inconsistent_inputs_are_rejected_with_the_fix()
    {
        using var model = reasoner.Load();
        var (tokens, entropies) = TinyReasoner.AnswerCorpus();
        var e1 = Assert.Throws<ArgumentException>(() => new RmtTrainer(Config(MidTrainPresets.Rmt(), 3), model, TinyReasoner.Tokenizer, tokens, entropies[1..]));
        Assert.Contains("entropies", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => new RmtTrainer(Config(MidTrainPresets.Rmt(), 3) with { Grpo = new GrpoConfig(KlWeight: 0.1) }, model, TinyReasoner.Tokenizer, tokens, entropies));
        Assert.Contains("klWeight", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => new RmtTrainer(Config(MidTrainPresets.Rmt(), 3) with { Rollout = new RolloutConfig(MaxReasoningTokens: 500) }, model, TinyReasoner.Tokenizer, tokens, entropies));
        Assert.Contains("maxReasoningTokens", e3.Message);
    }
}

[Collection(TinyReasonerCollection.Name)]
public sealed class RmtCheckpointTests(TinyReasoner reasoner)
{
    [Fact]
    public void Checkpoints_carry_the_config_and_resume_where_training_stopped()
    {
        var (tokens, entropies) = TinyReasoner.AnswerCorpus();
        var config = MidTrainPresets.Rmt() with
        {
            Schedule = new TrainingSchedule(Steps: 4, BatchSize: 2, LearningRate: 3e-3, WarmupSteps: 0, CheckpointEvery: 2, Seed: 5),
            ContextTokens = TinyReasoner.Context.Length, NtpTailTokens = 2,
            Budget = new BudgetConfig(Initial: 6, Minimum: 2),
            Rollout = new RolloutConfig(MaxReasoningTokens: 12),
        };
        var root = TestPaths.TempDir("rmt-ckpt");
        using (var model = reasoner.Load())
        using (var trainer = new RmtTrainer(config, model, TinyReasoner.Tokenizer, tokens, entropies))
        {
            trainer.TrainStep();
            trainer.TrainStep();
            trainer.SaveCheckpoint(Checkpoints.Checkpoint.StepDir(root, trainer.Step));
            Assert.Equal(2, trainer.Step);
        }
        var dir = Checkpoints.Checkpoint.Latest(root)!;
        Assert.EndsWith("step-2", dir);
        Assert.Equal(config, RmtTrainer.ReadConfig(dir));
        using var loaded = Checkpoints.Checkpoint.Load(dir);
        using var resumed = new RmtTrainer(RmtTrainer.ReadConfig(dir), loaded.Model, loaded.Tokenizer, tokens, entropies);
        resumed.RestoreState(dir);
        Assert.Equal(2, resumed.Step);
        RmtTrainerTests.TrainToEnd(resumed);
        Assert.Equal(4, resumed.Step);
        Assert.Equal(2, resumed.History.Count);
        Assert.Equal(2, resumed.History[0].Step);
        Directory.Delete(root, recursive: true);
    }
}

/// <summary>The whole loop in seconds: proxy entropies with the real model, cached next to the data,
/// RMT steps with progress, a checkpoint, and the evaluator on held-out text.</summary>
[Collection(TinyReasonerCollection.Name)]
public sealed class RmtSmokeTests(TinyReasoner reasoner)
{
    [Fact]
    public void Whole_loop_entropies_training_checkpoint_and_evaluation()
    {
        var dir = TestPaths.TempDir("rmt-smoke");
        var tokenizer = TinyReasoner.Tokenizer;
        var text = string.Concat(Enumerable.Range(0, 8).Select(i => $"{TinyReasoner.Context}{"wxyz"[i % 4]}<|endoftext|>"));
        var tokens = tokenizer.Encode(text);
        var dataPath = Path.Combine(dir, "corpus.txt");
        File.WriteAllText(dataPath, text);
        using var model = reasoner.Load();
        var (entropies, cached) = EntropyCache.LoadOrCompute(dataPath, tokens, "tiny-reasoner", 16, () => TokenEntropy.Compute(model, tokens, 16));
        Assert.False(cached);
        var tiers = new EntropyTiers(new CurriculumConfig());
        Assert.True(entropies.Any(h => tiers.Band(h) != Tier.Trivial), "the proxy should find some uncertain positions");

        var config = MidTrainPresets.Rmt() with
        {
            Schedule = new TrainingSchedule(Steps: 3, BatchSize: 2, LearningRate: 1e-3, WarmupSteps: 0, ProgressEvery: 1, CheckpointEvery: 3, Seed: 9),
            GroupSize = 4, ContextTokens = TinyReasoner.Context.Length, NtpTailTokens = 4,
            Budget = new BudgetConfig(Initial: 6, Minimum: 2),
            Rollout = new RolloutConfig(MaxReasoningTokens: 12),
        };
        using var trainer = new RmtTrainer(config, model, tokenizer, tokens, entropies);
        RmtTrainerTests.TrainToEnd(trainer);
        trainer.SaveCheckpoint(Path.Combine(dir, "step-3"));
        Assert.All(trainer.History, s => Assert.True(double.IsFinite(s.Loss.Total) && s.Budget is not null));
        Assert.Equal(config, RmtTrainer.ReadConfig(Path.Combine(dir, "step-3")));

        var eval = NextTokenEvaluator.Evaluate(model, tokenizer, tokens, entropies, tiers,
            new NextTokenEvalOptions(Reasoning: true, Budget: 2, PositionsPerTier: 4, ContextTokens: TinyReasoner.Context.Length, MaxReasoningTokens: 12));
        Assert.InRange(eval.Accuracy.Average, 0.0, 1.0);
        Directory.Delete(dir, recursive: true);
    }
}

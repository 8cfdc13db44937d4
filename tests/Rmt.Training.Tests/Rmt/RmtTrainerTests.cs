using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.Rmt;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Tests.Rmt;

public sealed class RmtTrainerTests(TinyReasoner reasoner) : IClassFixture<TinyReasoner>
{
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
        var progress = new List<MidTrainProgress>();
        trainer.Train(progress.Add);
        var history = trainer.History;
        double first = history.Take(5).Average(s => s.Reward);
        double last = history.TakeLast(5).Average(s => s.Reward);
        Assert.True(first < 0.6, $"the untrained model should not already answer 'z' (first reward {first:F2})");
        Assert.True(last > first + 0.25, $"reward did not rise: first {first:F2}, last {last:F2}");
        Assert.True(history[^1].WellFormed > 0.8);
        Assert.Equal(13, progress.Count);                                         // every 2 steps and at the end
        Assert.Contains("reward", progress[0].ToString());
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
        trainer.Train();
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

using Rmt.Contracts;
using Rmt.Training.MidTraining;
using Xunit.Abstractions;

namespace Rmt.Training.Tests.MidTraining;

/// <summary>The learner test: GRPO must raise accuracy where the base is partly right, and with a
/// budget move the reasoning length to it without losing accuracy. The <see cref="TinyReasoner"/>
/// answers w, x, y or z about equally often (about 25% right on "z") and reasons 2-6 letters
/// whatever its budget hint says. These tests fail when the advantage sign is flipped, the response
/// mask is off by one, or the KL reference is not the frozen starting policy (each was broken once
/// by hand to check; issue 11's note has the numbers).</summary>
[Collection(TinyReasonerCollection.Name)]
public sealed class GrpoLearningTests(TinyReasoner reasoner, ITestOutputHelper output)
{
    private static MidTrainConfig Config(MidTrainConfig preset, int steps, double lr) => preset with
    {
        Schedule = new TrainingSchedule(Steps: steps, BatchSize: 4, LearningRate: lr, WarmupSteps: 0, ProgressEvery: 5, CheckpointEvery: 1000, Seed: 21),
        ContextTokens = TinyReasoner.Context.Length,
        NtpTailTokens = 2,
        Rollout = preset.Rollout with { MaxReasoningTokens = 12 },
    };

    private static (double Accuracy, double Length) Mean(IEnumerable<MidTrainStepStats> steps)
    {
        var list = steps.ToList();
        return (list.Average(s => s.Accuracy), list.Average(s => s.ReasoningLength));
    }

    [Fact]
    public void Grpo_raises_accuracy_where_the_base_is_partly_right()
    {
        using var model = reasoner.Load();
        var (tokens, entropies) = TinyReasoner.AnswerCorpus('z');
        using var trainer = new RmtTrainer(Config(MidTrainPresets.Rpt(), 30, lr: 3e-3), model, TinyReasoner.Tokenizer, tokens, entropies);
        RmtTrainerTests.TrainToEnd(trainer);
        var (before, _) = Mean(trainer.History.Take(5));
        var (after, _) = Mean(trainer.History.TakeLast(5));
        output.WriteLine($"rollout accuracy: first 5 steps {before:F3}, last 5 steps {after:F3}");
        Assert.InRange(before, 0.1, 0.5);                                         // partly right to begin with
        Assert.True(after >= before + 0.3, $"GRPO did not learn: rollout accuracy {before:F3} -> {after:F3} (needs +0.30)");
    }

    [Fact]
    public void With_a_budget_the_reasoning_length_moves_to_it_without_losing_accuracy()
    {
        using var model = reasoner.Load();
        using var reference = reasoner.Load();                                    // the policy as RL starts
        var (tokens, entropies) = TinyReasoner.AnswerCorpus('z');
        const int budget = 6;                                                     // B_t = 6 throughout (B_0 = B_min)
        var config = Config(MidTrainPresets.Rmt(), 30, lr: 3e-3) with
        {
            Budget = new BudgetConfig(Initial: budget, Minimum: budget),
            Grpo = new GrpoConfig(KlWeight: 0.02),
        };
        using var trainer = new RmtTrainer(config, model, TinyReasoner.Tokenizer, tokens, entropies, reference);
        RmtTrainerTests.TrainToEnd(trainer);
        var h = trainer.History;
        var (accBefore, lenBefore) = Mean(h.Take(5));
        var (accAfter, lenAfter) = Mean(h.TakeLast(5));
        output.WriteLine($"first 5 steps: accuracy {accBefore:F3} length {lenBefore:F2}; last 5: accuracy {accAfter:F3} length {lenAfter:F2}; KL {h[0].Loss.Kl} -> {h[^1].Loss.Kl}");
        Assert.Equal(0.0, h[0].Loss.Kl);                                          // reference = the starting policy
        Assert.True(h.Skip(1).Any(s => s.Loss.Kl > 0), "the KL to the frozen reference never grew: is the reference the live policy?");
        Assert.True(Math.Abs(lenAfter - budget) <= Math.Abs(lenBefore - budget) - 1.0,
            $"reasoning length did not move to the budget {budget}: {lenBefore:F2} -> {lenAfter:F2}");
        Assert.True(accAfter >= accBefore, $"accuracy fell while the length moved: {accBefore:F3} -> {accAfter:F3}");
    }
}

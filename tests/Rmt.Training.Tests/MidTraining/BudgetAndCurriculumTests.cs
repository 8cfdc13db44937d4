using Rmt.Contracts;
using Rmt.Training.MidTraining;

namespace Rmt.Training.Tests.MidTraining;

public sealed class BudgetAndCurriculumTests
{
    [Theory]
    // paper preset B_0 = 800, B_min = 1, gamma = 0.2, T = 100
    [InlineData(0, 800)]
    [InlineData(50, 357)]      // 800 * 0.2^0.5 = 357.77
    [InlineData(99, 162)]      // 800 * 0.2^0.99 = 162.6
    [InlineData(100, 160)]     // exactly gamma * B_0 (no 159 from rounding)
    public void Paper_budget_schedule_values(int step, int expected)
    {
        var schedule = new BudgetSchedule(MidTrainPresets.Paper().Budget, 100);
        Assert.Equal(expected, schedule.At(step));
    }

    [Fact]
    public void Budget_never_falls_below_the_minimum_and_is_null_when_disabled()
    {
        var schedule = new BudgetSchedule(new BudgetConfig(Initial: 10, Minimum: 4, Gamma: 0.01), 10);
        Assert.Equal(10, schedule.At(0));
        Assert.Equal(4, schedule.At(5));   // 10 * 0.01^0.5 = 1 -> clamped to 4
        Assert.Equal(4, schedule.At(10));
        Assert.Null(new BudgetSchedule(new BudgetConfig(Enabled: false), 10).At(3));
        var small = new BudgetSchedule(new BudgetConfig(), 100);   // small-model defaults 64 / 4 / 0.2
        Assert.Equal(64, small.At(0));
        Assert.Equal(12, small.At(100));  // 64 * 0.2 = 12.8
    }

    [Fact]
    public void Tier_mix_is_p_t1_until_t1_interpolated_at_the_midpoint_and_p_t2_from_t2()
    {
        var config = new CurriculumConfig(Start: new TierMix(0.6, 0.3, 0.1), End: new TierMix(0.2, 0.2, 0.6));
        var schedule = new CurriculumSchedule(config, 100);
        Assert.Equal(new TierMix(0.6, 0.3, 0.1), schedule.MixAt(0));
        Assert.Equal(new TierMix(0.6, 0.3, 0.1), schedule.MixAt(30));          // t1 = 0.3 T
        var mid = schedule.MixAt(50);                                           // halfway from t1 to t2
        Assert.Equal(0.4, mid.Easy, 12);
        Assert.Equal(0.25, mid.Medium, 12);
        Assert.Equal(0.35, mid.Hard, 12);
        Assert.Equal(new TierMix(0.2, 0.2, 0.6), schedule.MixAt(70));          // t2 = 0.7 T
        Assert.Equal(new TierMix(0.2, 0.2, 0.6), schedule.MixAt(99));
    }

    [Fact]
    public void Bands_are_disjoint_and_nested_tiers_contain_the_harder_ones()
    {
        var tiers = new EntropyTiers(new CurriculumConfig());
        Assert.Equal(Tier.Trivial, tiers.Band(0.49));
        Assert.Equal(Tier.Easy, tiers.Band(0.5));
        Assert.Equal(Tier.Medium, tiers.Band(1.0));
        Assert.Equal(Tier.Hard, tiers.Band(1.5));
        Assert.Equal(Tier.Trivial, tiers.Band(double.NaN));
        Assert.True(tiers.InNested(2.0, Tier.Easy) && tiers.InNested(2.0, Tier.Medium) && tiers.InNested(2.0, Tier.Hard));
        Assert.True(tiers.InNested(1.2, Tier.Easy) && !tiers.InNested(1.2, Tier.Hard));
    }

    [Fact]
    public void A_noise_threshold_cuts_the_top_of_the_hard_band_out_of_every_tier()
    {
        var tiers = new EntropyTiers(new CurriculumConfig(NoiseThreshold: 2.0));
        Assert.Equal(Tier.Hard, tiers.Band(1.99));
        Assert.Equal(Tier.Noise, tiers.Band(2.0));
        Assert.False(tiers.InNested(2.3, Tier.Easy) || tiers.InNested(2.3, Tier.Hard));
        Assert.True(tiers.InNested(1.7, Tier.Easy) && tiers.InNested(1.7, Tier.Hard));
        Assert.Equal(Tier.Hard, new EntropyTiers(new CurriculumConfig()).Band(50.0));   // unset: no noise band (paper)
    }

    [Fact]
    public void The_sampler_and_the_evaluation_never_use_noise_positions()
    {
        // Entropies(): 10 hard positions at 2.0 nats, which a noise threshold of 1.9 turns into noise.
        var config = new CurriculumConfig(NoiseThreshold: 1.9);
        foreach (var curriculum in new[] { config, config with { Enabled = false } })
        {
            var drawn = new KeyPositionSampler(Entropies(), curriculum, 100).Draw(90, 5000, new Random(3));
            Assert.All(drawn, p => Assert.InRange(p, 11, 30));                  // easy and medium only
        }
    }

    private static float[] Entropies()
    {
        // position 0 has no prediction; then 10 trivial, 10 easy, 10 medium, 10 hard
        var e = new List<float> { float.NaN };
        e.AddRange(Enumerable.Repeat(0.1f, 10));
        e.AddRange(Enumerable.Repeat(0.7f, 10));
        e.AddRange(Enumerable.Repeat(1.2f, 10));
        e.AddRange(Enumerable.Repeat(2.0f, 10));
        return [.. e];
    }

    [Fact]
    public void Sampler_draws_tiers_in_the_scheduled_proportions_and_never_trivial_positions()
    {
        var tiers = new EntropyTiers(new CurriculumConfig());
        var sampler = new KeyPositionSampler(Entropies(), new CurriculumConfig(), 100);
        var rng = new Random(7);
        var early = sampler.Draw(0, 20_000, rng).Select(p => tiers.Band(Entropies()[p])).ToArray();
        Assert.DoesNotContain(Tier.Trivial, early);
        Assert.Equal(0.5, early.Count(t => t == Tier.Easy) / 20_000.0, 1);
        Assert.Equal(0.2, early.Count(t => t == Tier.Hard) / 20_000.0, 1);
        var late = sampler.Draw(90, 20_000, rng).Select(p => tiers.Band(Entropies()[p])).ToArray();
        Assert.Equal(0.6, late.Count(t => t == Tier.Hard) / 20_000.0, 1);
    }

    [Fact]
    public void Empty_tiers_give_their_mass_to_the_others_and_disabled_curriculum_is_uniform_over_non_trivial()
    {
        var noHard = Entropies()[..31];                                           // trivial, easy, medium only
        var sampler = new KeyPositionSampler(noHard, new CurriculumConfig(), 100);
        var mix = sampler.EffectiveMix(99);                                        // End = (0.1, 0.3, 0.6)
        Assert.Equal(0.25, mix.Easy, 12);
        Assert.Equal(0.75, mix.Medium, 12);
        Assert.Equal(0.0, mix.Hard);
        var uniform = new KeyPositionSampler(Entropies(), new CurriculumConfig(Enabled: false), 100);
        var drawn = uniform.Draw(0, 3000, new Random(1));
        Assert.All(drawn, p => Assert.InRange(p, 11, 40));
        var allTrivial = new KeyPositionSampler(new float[] { float.NaN, 0.1f, 0.1f }, new CurriculumConfig(), 10);
        Assert.All(allTrivial.Draw(5, 50, new Random(1)), p => Assert.InRange(p, 1, 2));
    }
}

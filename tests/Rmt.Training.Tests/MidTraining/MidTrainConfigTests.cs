using Rmt.Contracts;

namespace Rmt.Training.Tests.MidTraining;

public sealed class MidTrainConfigTests
{
    [Fact]
    public void Every_preset_validates_and_round_trips_through_json()
    {
        foreach (var name in MidTrainPresets.Names)
        {
            var config = MidTrainPresets.Get(name);
            config.Validate();
            var back = RmtJson.Parse<MidTrainConfig>(RmtJson.Serialize(config), name);
            Assert.Equal(config, back);
        }
        MidTrainPresets.Paper().Validate();
    }

    [Fact]
    public void Presets_switch_off_exactly_their_mechanism()
    {
        var rpt = MidTrainPresets.Rpt();
        Assert.False(rpt.Budget.Enabled);
        Assert.False(rpt.Curriculum.Enabled);
        Assert.Equal(0.0, rpt.NtpWeight);
        Assert.True(rpt.Reinforcement);
        Assert.False(MidTrainPresets.NoBudget().Budget.Enabled);
        Assert.True(MidTrainPresets.NoBudget().Curriculum.Enabled);
        Assert.False(MidTrainPresets.NoCurriculum().Curriculum.Enabled);
        Assert.Equal(0.0, MidTrainPresets.NoNtp().NtpWeight);
        Assert.False(MidTrainPresets.NtpContinued().Reinforcement);
        Assert.Equal(800, MidTrainPresets.Paper().Budget.Initial);
        Assert.Equal(0.2, MidTrainPresets.Paper().Budget.Gamma);
    }

    [Theory]
    [InlineData("midTrain.budget.gamma", "between 1E-09 and 1")]
    [InlineData("midTrain.curriculum.start", "must be 1")]
    [InlineData("midTrain.curriculum.hardThreshold", "between 1 and 100")]
    [InlineData("midTrain.curriculum.noiseThreshold", "above midTrain.curriculum.hardThreshold (1.5)")]
    [InlineData("midTrain.reward.match", "exact, byte-prefix")]
    [InlineData("midTrain.rollout.answerFormat", "next-token, boxed")]
    [InlineData("midTrain.grpo.klWeight", "between 0 and 100")]
    [InlineData("midTrain.evalPositionsPerTier", "between 1 and 1000000")]
    [InlineData("midTrain.ntpWeight", "reinforcement")]
    public void Bad_configs_are_rejected_naming_the_field_and_the_valid_range(string field, string range)
    {
        MidTrainConfig bad = field switch
        {
            "midTrain.budget.gamma" => new(Budget: new BudgetConfig(Gamma: 1.5)),
            "midTrain.curriculum.start" => new(Curriculum: new CurriculumConfig(Start: new TierMix(0.5, 0.5, 0.5))),
            "midTrain.curriculum.hardThreshold" => new(Curriculum: new CurriculumConfig(HardThreshold: 0.7)),
            "midTrain.curriculum.noiseThreshold" => new(Curriculum: new CurriculumConfig(NoiseThreshold: 1.5)),
            "midTrain.reward.match" => new(Reward: new RewardConfig(Match: "fuzzy")),
            "midTrain.rollout.answerFormat" => new(Rollout: new RolloutConfig(AnswerFormat: "json")),
            "midTrain.grpo.klWeight" => new(Grpo: new GrpoConfig(KlWeight: -1)),
            "midTrain.evalPositionsPerTier" => new(EvalPositionsPerTier: 0),
            _ => new(NtpWeight: 0, Reinforcement: false),
        };
        var e = Assert.Throws<ContractException>(bad.Validate);
        Assert.Contains(field, e.Message);
        Assert.Contains(range, e.Message);
    }

    [Fact]
    public void Unknown_fields_in_a_nested_record_are_rejected_by_name()
    {
        var json = RmtJson.Serialize(new MidTrainConfig()).Replace("\"gamma\":0.2", "\"gamma\":0.2,\"gamme\":1", StringComparison.Ordinal);
        var e = Assert.Throws<ContractException>(() => RmtJson.Parse<MidTrainConfig>(json, "config"));
        Assert.Contains("gamme", e.Message);
    }
}

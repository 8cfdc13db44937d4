using System.Globalization;

namespace Rmt.Contracts;

// The nested knobs of MidTrainConfig: one record per mechanism of the RMT paper (arXiv 2509.24375).
// Defaults are for tiny models with byte-level tokens; the paper's values are in MidTrainPresets.Paper.

/// <summary>(a) Dynamic token budget <c>B_t = max(B_min, floor(B_0 * gamma^(t/T)))</c> and the
/// budget hint in the prompt. Disabled: no hint, no length reward (RPT and the "w/o budget" ablation).</summary>
public sealed record BudgetConfig(
    bool Enabled = true,             // the paper's mechanism (a); off for RPT and "w/o budget"
    int Initial = 64,                // B_0; tiny byte-level traces are 10-80 tokens (paper: 800)
    int Minimum = 4,                 // B_min; the shortest useful arithmetic trace is ~6 bytes (paper: 1)
    double Gamma = 0.2)              // decay: B_T = gamma * B_0 at the end of training (paper: 0.2)
{
    public void Validate(string prefix)
    {
        Validation.Range(Initial, 1, 1 << 20, $"{prefix}.initial");
        Validation.Range(Minimum, 0, Initial, $"{prefix}.minimum");
        Validation.Range(Gamma, 1e-9, 1.0, $"{prefix}.gamma");
    }
}

/// <summary>Probabilities of drawing the easy, medium and hard tier; they must sum to 1.</summary>
public sealed record TierMix(double Easy, double Medium, double Hard)
{
    public void Validate(string prefix)
    {
        Validation.Range(Easy, 0.0, 1.0, $"{prefix}.easy");
        Validation.Range(Medium, 0.0, 1.0, $"{prefix}.medium");
        Validation.Range(Hard, 0.0, 1.0, $"{prefix}.hard");
        double sum = Easy + Medium + Hard;
        if (Math.Abs(sum - 1.0) > 1e-6)
            throw new ContractException($"{prefix} sums to {sum}; easy + medium + hard must be 1");
    }
}

/// <summary>(b) Curriculum adaptive sampling. Positions are tiered by the top-k entropy of a proxy
/// model: trivial H &lt; easy threshold (never a key position), easy [easy, medium), medium
/// [medium, hard), hard H &gt;= hard threshold. The tier mix is <c>Start</c> before
/// <c>StartFraction*T</c>, linear to <c>End</c> at <c>EndFraction*T</c>, then <c>End</c>.
/// Disabled: uniform over every non-trivial position (RPT's entropy filter without a schedule).</summary>
public sealed record CurriculumConfig(
    bool Enabled = true,             // the paper's mechanism (b); off for RPT and "w/o curriculum"
    int TopK = 16,                   // entropy over the proxy's top-16 probabilities (RPT)
    double EasyThreshold = 0.5,      // nats; below = trivial, not worth reasoning (RPT: 0.5)
    double MediumThreshold = 1.0,    // nats (RPT: 1.0)
    double HardThreshold = 1.5,      // nats (RPT: 1.5)
    TierMix? Start = null,           // p_t1: mostly easy and medium early
    TierMix? End = null,             // p_t2: mass moved to hard late (the paper's direction)
    double StartFraction = 0.3,      // t1 = 0.3 T (paper)
    double EndFraction = 0.7,        // t2 = 0.7 T (paper)
    string? ProxyCheckpoint = null,  // folder of the proxy model; null = the starting policy
    double? NoiseThreshold = null)   // nats; at or above it a position is noise (random content such as random numbers, which no reasoning predicts): never a key position, never scored. null = none (paper)
{
    public TierMix Start { get; init; } = Start ?? new TierMix(0.5, 0.3, 0.2);
    public TierMix End { get; init; } = End ?? new TierMix(0.1, 0.3, 0.6);

    public void Validate(string prefix)
    {
        Validation.Range(TopK, 2, 1 << 20, $"{prefix}.topK");
        Validation.Range(EasyThreshold, 0.0, 100.0, $"{prefix}.easyThreshold");
        Validation.Range(MediumThreshold, EasyThreshold, 100.0, $"{prefix}.mediumThreshold");
        Validation.Range(HardThreshold, MediumThreshold, 100.0, $"{prefix}.hardThreshold");
        if (NoiseThreshold is double noise && !(noise > HardThreshold && noise <= 100.0))
            throw new ContractException(string.Create(CultureInfo.InvariantCulture,
                $"{prefix}.noiseThreshold is {noise}; it must be above {prefix}.hardThreshold ({HardThreshold}) and at most 100, or null for no noise cut"));
        Start.Validate($"{prefix}.start");
        End.Validate($"{prefix}.end");
        Validation.Range(StartFraction, 0.0, 1.0, $"{prefix}.startFraction");
        Validation.Range(EndFraction, StartFraction, 1.0, $"{prefix}.endFraction");
        if (ProxyCheckpoint is not null) Validation.NotEmpty(ProxyCheckpoint, $"{prefix}.proxyCheckpoint");
    }
}

/// <summary>Reward <c>r = (1-w) r_pos + w r_len</c>. <c>r_pos</c> is exact next-token match (paper)
/// or RPT's byte-prefix match on token boundaries; <c>r_len</c> is triangular around the budget.
/// Malformed responses (no <c>&lt;/think&gt;</c> or no answer) score 0.</summary>
public sealed record RewardConfig(
    string Match = RewardConfig.ExactMatch, // "exact" (paper) or "byte-prefix" (RPT)
    double LengthWeight = 0.2,       // w: at most 0.2 for length, so a right answer (>= 0.8) always beats a wrong one
    double LengthRewardMax = 1.0,    // r_max: the length term peaks at l = B_t with this value
    bool LengthOnlyIfCorrect = false) // false = the paper's formula; true pays r_len only to right answers (tiny models whose accuracy is near 0 otherwise learn length alone)
{
    public const string ExactMatch = "exact";
    public const string BytePrefixMatch = "byte-prefix";
    public static readonly IReadOnlyList<string> MatchNames = [ExactMatch, BytePrefixMatch];

    public void Validate(string prefix)
    {
        if (!MatchNames.Contains(Match))
            throw new ContractException($"{prefix}.match is '{Match}'; use one of {string.Join(", ", MatchNames)}");
        Validation.Range(LengthWeight, 0.0, 1.0, $"{prefix}.lengthWeight");
        Validation.Range(LengthRewardMax, 0.0, 1e6, $"{prefix}.lengthRewardMax");
    }
}

/// <summary>(c) GRPO on key positions: group-normalised advantages, optional PPO-style clipping,
/// optional KL (k3) to the frozen starting policy, token-level loss normalisation.</summary>
public sealed record GrpoConfig(
    double AdvantageEpsilon = 1e-4,  // delta in (r - mean) / (std + delta); keeps equal-reward groups at 0
    bool Clip = true,                // PPO-style ratio clipping (matters when updatesPerBatch > 1)
    double ClipRange = 0.2,          // epsilon of clip(ratio, 1 - eps, 1 + eps)
    double KlWeight = 0.0,           // beta of the k3 KL to the reference; 0 = off and no reference copy
    int UpdatesPerBatch = 1)         // optimizer steps per rollout batch (1 = strictly on-policy)
{
    public void Validate(string prefix)
    {
        Validation.Range(AdvantageEpsilon, 1e-12, 1.0, $"{prefix}.advantageEpsilon");
        Validation.Range(ClipRange, 1e-6, 10.0, $"{prefix}.clipRange");
        Validation.Range(KlWeight, 0.0, 100.0, $"{prefix}.klWeight");
        Validation.Range(UpdatesPerBatch, 1, 64, $"{prefix}.updatesPerBatch");
    }
}

/// <summary>How responses are sampled and read.</summary>
public sealed record RolloutConfig(
    double Temperature = 1.0,        // sampling temperature of the G responses (exploration)
    double TopP = 1.0,               // nucleus mass; 1 keeps every token
    int MaxReasoningTokens = 96,     // generation cap for the reasoning span, equal for every method (same compute)
    string AnswerFormat = RolloutConfig.NextTokenFormat) // "next-token" (small models) or "boxed" (large models)
{
    public const string NextTokenFormat = "next-token";
    public const string BoxedFormat = "boxed";
    public static readonly IReadOnlyList<string> FormatNames = [NextTokenFormat, BoxedFormat];

    public void Validate(string prefix)
    {
        Validation.Range(Temperature, 1e-3, 10.0, $"{prefix}.temperature");
        Validation.Range(TopP, 1e-6, 1.0, $"{prefix}.topP");
        Validation.Range(MaxReasoningTokens, 1, 1 << 20, $"{prefix}.maxReasoningTokens");
        if (!FormatNames.Contains(AnswerFormat))
            throw new ContractException($"{prefix}.answerFormat is '{AnswerFormat}'; use one of {string.Join(", ", FormatNames)}");
    }
}

/// <summary>RMT, its training baselines and its ablations as configurations of the one trainer.
/// The evaluation-only baselines need no training: NTP = the base model's argmax, NTR = the base
/// model reasoning untrained (see the evaluator).</summary>
public static class MidTrainPresets
{
    public const string RmtName = "rmt";
    public const string RptName = "rpt";
    public const string NoBudgetName = "rmt-no-budget";
    public const string NoCurriculumName = "rmt-no-curriculum";
    public const string NoNtpName = "rmt-no-ntp";
    public const string NtpContinuedName = "ntp-continued";

    public static readonly IReadOnlyList<string> Names = [RmtName, RptName, NoBudgetName, NoCurriculumName, NoNtpName, NtpContinuedName];

    /// <summary>Full RMT: budget, curriculum, dual loss.</summary>
    public static MidTrainConfig Rmt(TrainingSchedule? schedule = null) => new(schedule);

    /// <summary>RPT: RL only - no budget, no curriculum, no NTP loss, no KL (as arXiv 2506.08007 ran it).</summary>
    public static MidTrainConfig Rpt(TrainingSchedule? schedule = null) => new(schedule,
        NtpWeight: 0.0, Budget: new BudgetConfig(Enabled: false), Curriculum: new CurriculumConfig(Enabled: false),
        Grpo: new GrpoConfig(KlWeight: 0.0));

    /// <summary>Whether a preset takes a KL term when an experiment turns one on for RL methods:
    /// every RL preset but RPT, which its paper ran without one.</summary>
    public static bool UsesKl(string name) => name is not (RptName or NtpContinuedName);

    public static MidTrainConfig NoBudget(TrainingSchedule? schedule = null) => new(schedule, Budget: new BudgetConfig(Enabled: false));

    public static MidTrainConfig NoCurriculum(TrainingSchedule? schedule = null) => new(schedule, Curriculum: new CurriculumConfig(Enabled: false));

    public static MidTrainConfig NoNtp(TrainingSchedule? schedule = null) => new(schedule, NtpWeight: 0.0);

    /// <summary>NTP continued training with the same compute: no rollouts, NTP on every position
    /// (key positions included), batch x G windows per step so it sees as many sequences as RMT.</summary>
    public static MidTrainConfig NtpContinued(TrainingSchedule? schedule = null) => new(schedule, NtpWeight: 1.0, Reinforcement: false);

    /// <summary>The paper's 14B settings: G=8, batch 128, lr 1e-6, budget 800 / 1 / 0.2, lambda 0.1.</summary>
    public static MidTrainConfig Paper() => new(
        new TrainingSchedule(BatchSize: 128, LearningRate: 1e-6),
        GroupSize: 8, NtpWeight: 0.1, ContextTokens: 2048,
        Budget: new BudgetConfig(Enabled: true, Initial: 800, Minimum: 1, Gamma: 0.2),
        Rollout: new RolloutConfig(MaxReasoningTokens: 8192, AnswerFormat: RolloutConfig.BoxedFormat));

    public static MidTrainConfig Get(string name, TrainingSchedule? schedule = null) => name switch
    {
        RmtName => Rmt(schedule),
        RptName => Rpt(schedule),
        NoBudgetName => NoBudget(schedule),
        NoCurriculumName => NoCurriculum(schedule),
        NoNtpName => NoNtp(schedule),
        NtpContinuedName => NtpContinued(schedule),
        _ => throw new ContractException($"mid-train preset '{name}' is unknown; use one of {string.Join(", ", Names)}"),
    };
}

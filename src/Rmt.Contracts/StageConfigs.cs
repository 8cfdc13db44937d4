namespace Rmt.Contracts;

// One sealed record per stage config. Defaults are inline with a one-line reason; Validate() says
// what is wrong and how to fix it. Every config is saved into every checkpoint it produces.
// The trainer issues grow these records; keep the JSON names stable once released.

/// <summary>Settings every training stage shares.</summary>
public sealed record TrainingSchedule(
    int Steps = 200,                 // small enough for a laptop demo; real runs set this
    int BatchSize = 8,               // sequences (or prompts) per optimizer step
    double LearningRate = 1e-3,      // tiny from-scratch models; the paper uses 1e-6 for 14B
    int WarmupSteps = 10,            // linear warm-up before the cosine decay
    double WeightDecay = 0.1,        // AdamW, as in nanoGPT
    double GradClip = 1.0,           // max global gradient norm
    int GradAccumulation = 1,        // micro-batches per optimizer step
    int Seed = 1234,                 // every random choice derives from this
    int CheckpointEvery = 50,        // steps between checkpoints (a preempted job loses at most this)
    int ProgressEvery = 10,          // steps between progress events
    string Device = "cpu")           // "cpu" or "cuda" (or "cuda:N")
{
    public void Validate(string prefix)
    {
        Validation.Range(Steps, 1, 10_000_000, $"{prefix}.steps");
        Validation.Range(BatchSize, 1, 65_536, $"{prefix}.batchSize");
        Validation.Range(LearningRate, 1e-12, 1.0, $"{prefix}.learningRate");
        Validation.Range(WarmupSteps, 0, Steps, $"{prefix}.warmupSteps");
        Validation.Range(WeightDecay, 0.0, 1.0, $"{prefix}.weightDecay");
        Validation.Range(GradClip, 0.0, 1e6, $"{prefix}.gradClip");
        Validation.Range(GradAccumulation, 1, 1024, $"{prefix}.gradAccumulation");
        Validation.Range(CheckpointEvery, 1, 10_000_000, $"{prefix}.checkpointEvery");
        Validation.Range(ProgressEvery, 1, 10_000_000, $"{prefix}.progressEvery");
        if (Device != "cpu" && Device != "cuda" && !Device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ContractException($"{prefix}.device is '{Device}'; use \"cpu\", \"cuda\" or \"cuda:N\"");
    }
}

/// <summary>Next-token pretraining (from scratch when the job has no base checkpoint).</summary>
public sealed record PretrainConfig(
    TrainingSchedule? Schedule = null,
    int SequenceLength = 128,        // context of the tiny demo model
    string ModelPreset = "tiny")     // shape of a from-scratch model; ignored when a base checkpoint is given
{
    public TrainingSchedule Schedule { get; init; } = Schedule ?? new TrainingSchedule();

    public void Validate()
    {
        Schedule.Validate("pretrain.schedule");
        Validation.Range(SequenceLength, 8, 1 << 20, "pretrain.sequenceLength");
        Validation.NotEmpty(ModelPreset, "pretrain.modelPreset");
    }
}

/// <summary>Reinforcement mid-training (arXiv 2509.24375) and its baselines and ablations, which are
/// configurations of the same trainer (<see cref="MidTrainPresets"/>). Nested knobs live in
/// MidTrainSettings.cs. Defaults suit tiny from-scratch models; <see cref="MidTrainPresets.Paper"/>
/// holds the paper's 14B numbers.</summary>
public sealed record MidTrainConfig(
    TrainingSchedule? Schedule = null,
    int GroupSize = 8,               // G responses per key position (paper: 8)
    double NtpWeight = 0.1,          // lambda in L = L_RL + lambda * L_NTP (paper: 0.1); 0 = RL only (RPT, "w/o NTP")
    bool Reinforcement = true,       // false: NTP-only continued training, the "NTP, same compute" baseline
    int ContextTokens = 96,          // prefix tokens before a key position shown in the prompt and scored by NTP
    int NtpTailTokens = 32,          // tokens after the key position that also get the NTP loss
    BudgetConfig? Budget = null,
    CurriculumConfig? Curriculum = null,
    RewardConfig? Reward = null,
    GrpoConfig? Grpo = null,
    RolloutConfig? Rollout = null,
    int EvalPositionsPerTier = 50)   // held-out positions scored per entropy tier when datasets.midTrainEval is set (one standard error is about 7 points at 50% with 50, 5 with 100)
{
    public TrainingSchedule Schedule { get; init; } = Schedule ?? new TrainingSchedule();
    public BudgetConfig Budget { get; init; } = Budget ?? new BudgetConfig();
    public CurriculumConfig Curriculum { get; init; } = Curriculum ?? new CurriculumConfig();
    public RewardConfig Reward { get; init; } = Reward ?? new RewardConfig();
    public GrpoConfig Grpo { get; init; } = Grpo ?? new GrpoConfig();
    public RolloutConfig Rollout { get; init; } = Rollout ?? new RolloutConfig();

    public void Validate()
    {
        Schedule.Validate("midTrain.schedule");
        Validation.Range(GroupSize, 2, 1024, "midTrain.groupSize");
        Validation.Range(NtpWeight, 0.0, 100.0, "midTrain.ntpWeight");
        Validation.Range(ContextTokens, 1, 1 << 20, "midTrain.contextTokens");
        Validation.Range(NtpTailTokens, 0, 1 << 20, "midTrain.ntpTailTokens");
        Validation.Range(EvalPositionsPerTier, 1, 1_000_000, "midTrain.evalPositionsPerTier");
        if (!Reinforcement && NtpWeight <= 0)
            throw new ContractException("midTrain.ntpWeight is 0 while midTrain.reinforcement is false: nothing would be trained; set ntpWeight > 0 or reinforcement true");
        Budget.Validate("midTrain.budget");
        Curriculum.Validate("midTrain.curriculum");
        Reward.Validate("midTrain.reward");
        Grpo.Validate("midTrain.grpo");
        Rollout.Validate("midTrain.rollout");
    }
}

/// <summary>Math post-training: GRPO with verifiable rewards (correct final answer, plus an optional
/// format bonus), starting from any checkpoint a previous stage wrote. The problems come from the
/// job's dataset (GSM8K-format jsonl); held-out problems from its eval dataset, or else the last
/// <see cref="EvalSize"/> problems of the dataset are held out.</summary>
public sealed record PostTrainConfig(
    TrainingSchedule? Schedule = null,
    int GroupSize = 8,               // G answers per problem; advantages are relative within the group (DeepSeekMath GRPO: 64, tiny models learn with 8)
    int MaxNewTokens = 64,           // reasoning + answer budget; enough for multi-step arithmetic, raise to 256+ for GSM8K
    double Temperature = 1.0,        // sample the policy as it is, so the policy-gradient estimate is unbiased
    double FormatRewardWeight = 0.1, // bonus for "<think>...</think> #### x"; small so it never outweighs a correct answer
    int EvalSize = 200,              // held-out problems scored before, during and after training
    int EvalEvery = 0,               // steps between held-out evaluations during training; 0 = before and after only
    int PassAtK = 4,                 // k of pass@k
    int EvalSamples = 8,             // samples per held-out problem for pass@k (unbiased estimator, needs >= k)
    int FormatWarmupSteps = 0,       // NTP steps on worked solutions before GRPO; tiny models that never saw "#### x" need some, 0 = pure RL
    double FormatWarmupLearningRate = 1e-3, // supervised steps tolerate a larger rate than RL (tiny-model pretraining uses 3e-3)
    GrpoConfig? Grpo = null,         // advantages, clipping and KL: the mid-training trainer's GRPO knobs, shared
    double FormatWarmupTargetAccuracy = 0, // > 0: stop the warm-up early once greedy accuracy on training problems withheld from it reaches this; formatWarmupSteps is then the most it may take. 0 = all formatWarmupSteps
    int FormatWarmupCheckEvery = 100)      // warm-up steps between those checks (each decodes the withheld problems greedily)
{
    /// <summary>Post-training keeps the policy near its starting checkpoint: KL beta 0.04 is the
    /// DeepSeekMath GRPO value (mid-training's default is 0).</summary>
    public static GrpoConfig DefaultGrpo { get; } = new(KlWeight: 0.04);

    public GrpoConfig Grpo { get; init; } = Grpo ?? DefaultGrpo;

    /// <summary>RL on a pretrained model takes smaller steps than pretraining from scratch.</summary>
    public static TrainingSchedule DefaultSchedule { get; } = new(Steps: 200, BatchSize: 8, LearningRate: 1e-4, WarmupSteps: 5, WeightDecay: 0.0);

    public TrainingSchedule Schedule { get; init; } = Schedule ?? DefaultSchedule;

    public void Validate()
    {
        Schedule.Validate("postTrain.schedule");
        Validation.Range(GroupSize, 2, 1024, "postTrain.groupSize");
        Validation.Range(MaxNewTokens, 1, 32_768, "postTrain.maxNewTokens");
        Validation.Range(Temperature, 0.05, 5.0, "postTrain.temperature");
        Validation.Range(FormatRewardWeight, 0.0, 1.0, "postTrain.formatRewardWeight");
        Validation.Range(EvalSize, 1, 1_000_000, "postTrain.evalSize");
        Validation.Range(EvalEvery, 0, 10_000_000, "postTrain.evalEvery");
        Validation.Range(PassAtK, 1, 1024, "postTrain.passAtK");
        Validation.Range(EvalSamples, 1, 1024, "postTrain.evalSamples");
        if (EvalSamples < PassAtK)
            throw new ContractException($"postTrain.evalSamples is {EvalSamples}; pass@{PassAtK} needs at least {PassAtK} samples per problem; raise evalSamples or lower passAtK");
        Validation.Range(FormatWarmupSteps, 0, 10_000_000, "postTrain.formatWarmupSteps");
        Validation.Range(FormatWarmupLearningRate, 1e-12, 1.0, "postTrain.formatWarmupLearningRate");
        Validation.Range(FormatWarmupTargetAccuracy, 0.0, 1.0, "postTrain.formatWarmupTargetAccuracy");
        Validation.Range(FormatWarmupCheckEvery, 1, 10_000_000, "postTrain.formatWarmupCheckEvery");
        if (FormatWarmupTargetAccuracy > 0 && FormatWarmupSteps == 0)
            throw new ContractException($"postTrain.formatWarmupTargetAccuracy is {FormatWarmupTargetAccuracy.ToString(System.Globalization.CultureInfo.InvariantCulture)} but formatWarmupSteps is 0; " +
                                        "set formatWarmupSteps to the most warm-up steps the target may take, or the target to 0");
        Grpo.Validate("postTrain.grpo");
    }
}

/// <summary>Evaluation of a checkpoint.</summary>
public sealed record EvalConfig(
    int MaxExamples = 200,           // held-out positions or problems to score
    int Seed = 1234,
    string Device = "cpu")
{
    public void Validate()
    {
        Validation.Range(MaxExamples, 1, 10_000_000, "eval.maxExamples");
    }
}

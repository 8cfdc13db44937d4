using System.Diagnostics;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.Rl;
using Rmt.Training.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.PostTraining;

// Math post-training with verifiable rewards: GRPO as in DeepSeekMath (arXiv 2402.03300) and
// DeepSeek-R1, the paper's post-training stage. Per optimizer step:
//   1. take BatchSize problems (a seeded shuffle of the training set, reshuffled every epoch);
//   2. sample G completions of each prompt "question <think>" with the current policy (KV cache,
//      temperature T, stop at end-of-text), keeping each token's sampling log-prob;
//   3. reward r = (1 - w) * correct + w * well-formed (MathReward, in the RMT trainer's IRewardFunction
//      signature over MathResponse.Parse), verifiable, no learned model;
//   4. group-relative advantages A = (r - mean_group r) / (std_group r + delta) (Rl.GroupAdvantages);
//   5. teacher-force prompt + completion through the policy (gradients) and, when beta > 0, the
//      frozen base checkpoint; loss = clipped policy loss (Rl.GrpoPolicyLoss) + beta * k3 KL
//      (Rl.KlPenalty), token-level mean over completion tokens; clip the global grad norm; AdamW at
//      the warm-up + cosine learning rate (Rl.PolicyOptimizer).
// Departures: one optimizer step per rollout batch (strictly on-policy, so the ratio is 1 up to
// numerics and the clip only guards against KV-cache vs full-forward rounding); a step whose groups
// all have equal rewards has no signal and skips the update (its rollouts still count).
// The RL pieces are the mid-training trainer's (src/Rmt.Training/Rl), shared, not copied.

/// <summary>What one post-training step did.</summary>
public sealed record MathStepMetrics(
    int Step,
    double Reward,                  // mean total reward of the step's completions
    double Correct,                 // fraction of completions with the right answer
    double Format,                  // fraction well formed
    double CompletionTokens,        // mean generated tokens
    double Loss,
    double PolicyLoss,
    double Kl,
    double LearningRate,
    double GradNorm,                // NaN when the step had no signal (or no clipping)
    bool Updated,                   // false when every group had equal rewards
    double Seconds);

public sealed class MathGrpoTrainer : IDisposable
{
    /// <summary>The trainer name in its checkpoints' trainer_state.json.</summary>
    public const string TrainerName = "post-train-grpo";

    private readonly PostTrainConfig config;
    private readonly IReadOnlyList<MathProblem> problems;
    private readonly MathReward reward;
    private readonly CausalLM? reference;
    private readonly TextSampler sampler;
    private readonly PolicyOptimizer optimizer;
    private readonly GrpoPolicyLoss policyLoss;
    private readonly KlPenalty klPenalty;
    private int[] order;
    private MathStepMetrics? last;

    /// <param name="policy">The model to train (its weights change).</param>
    /// <param name="reference">Frozen copy of the starting weights for the KL term; required when
    /// <see cref="GrpoConfig.KlWeight"/> is above 0, ignored otherwise.</param>
    public MathGrpoTrainer(CausalLM policy, CausalLM? reference, ITokenizer tokenizer, IReadOnlyList<MathProblem> problems, PostTrainConfig config)
    {
        config.Validate();
        if (problems.Count == 0) throw new ArgumentException("no training problems", nameof(problems));
        if (config.Grpo.KlWeight > 0 && reference is null)
            throw new ArgumentException($"postTrain.grpo.klWeight is {config.Grpo.KlWeight} but no reference model was given; pass the base model or set klWeight 0", nameof(reference));
        Policy = policy;
        Tokenizer = tokenizer;
        this.problems = problems;
        this.config = config;
        this.reference = config.Grpo.KlWeight > 0 ? reference : null;
        if (this.reference is not null)
            foreach (var p in this.reference.parameters()) p.requires_grad = false;
        reward = new MathReward(tokenizer, config.FormatRewardWeight);
        policyLoss = new GrpoPolicyLoss(config.Grpo.Clip, config.Grpo.ClipRange);
        klPenalty = new KlPenalty(config.Grpo.KlWeight);
        if (Devices.AutocastDtype(policy.Device) is ScalarType compute)
        {
            policy.ComputeDtype ??= compute;                     // bf16 compute on CUDA, float32 master weights
            if (this.reference is not null) this.reference.ComputeDtype ??= compute;
        }
        sampler = new TextSampler(policy, config.Schedule.Seed);
        optimizer = new PolicyOptimizer(policy, config.Schedule);
        order = Shuffle(epoch: 0);
    }

    public CausalLM Policy { get; }

    /// <summary>The AdamW state, saved with every checkpoint for an exact resume.</summary>
    public TorchSharp.Modules.OptimizerHelper Optimizer => optimizer.Inner;
    public ITokenizer Tokenizer { get; }

    /// <summary>Optimizer steps taken (with or without an update).</summary>
    public int Step { get; private set; }

    /// <summary>Problems consumed so far; problem k of the run is a pure function of k and the seed.</summary>
    public long DataPosition { get; private set; }

    public MathStepMetrics TrainStep()
    {
        var watch = Stopwatch.StartNew();
        var g = config.GroupSize;
        var batch = NextProblems(config.Schedule.BatchSize);
        double lr = PolicyOptimizer.LearningRateAt(config.Schedule, Step);

        // 1-2. Rollouts: G samples per prompt, no gradients (the sampler runs under no_grad).
        var prompts = batch.Select(p => MathTokens.EncodePrompt(Tokenizer, p)).ToArray();
        var rows = prompts.SelectMany(p => Enumerable.Repeat(p, g)).ToArray();
        var generated = sampler.Generate(rows, new SamplingOptions(
            MaxNewTokens: config.MaxNewTokens, Temperature: config.Temperature, StopTokens: [Tokenizer.EndOfText], PadTokenId: Tokenizer.EndOfText));

        // 3-4. Verifiable rewards and group-relative advantages.
        var contexts = batch.Select(reward.Context).ToArray();
        var scores = new MathRewardBreakdown[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            var response = MathResponse.Parse(Tokenizer, generated.Tokens[i], generated.Lengths[i]);
            scores[i] = reward.Breakdown(response, contexts[i / g]);
        }
        var advantages = GroupAdvantages.Compute(scores.Select(s => s.Total).ToArray(), g, config.Grpo.AdvantageEpsilon);
        var updated = advantages.Any(a => a != 0);

        // 5. Policy update on prompt + completion, loss over completion tokens only.
        double loss = 0, policyTerm = 0, klTerm = 0, gradNorm = double.NaN;
        if (updated)
        {
            Policy.train();
            using var scope = NewDisposeScope();
            var packed = RolloutBatch.Build(                                                       // (N, L), (N, L-1), (N, L-1)
                rows.Select((prompt, i) => new RolloutRow(prompt, generated.Tokens[i], generated.LogProbs[i], generated.Lengths[i])).ToList(),
                Tokenizer.EndOfText, Policy.Device);
            var (ids, mask, oldLogProbs) = (packed.Ids, packed.CompletionMask, packed.SampledLogProbs);
            var adv = tensor(advantages.Select(a => (float)a).ToArray(), device: Policy.Device);   // (N)
            var logProbs = SequenceScorer.TokenLogProbs(Policy, ids, null, config.Temperature);    // (N, L-1)
            var lossPolicy = policyLoss.Compute(logProbs, oldLogProbs, adv, mask);                 // ()
            Tensor? lossKl = null;
            if (reference is not null)
            {
                Tensor refLogProbs;
                using (no_grad()) refLogProbs = SequenceScorer.TokenLogProbs(reference, ids, null, config.Temperature); // (N, L-1)
                lossKl = klPenalty.Compute(logProbs, refLogProbs, mask);                           // ()
            }
            var total = lossKl is null ? lossPolicy : lossPolicy + lossKl;                         // ()
            optimizer.ZeroGrad();
            total.backward();
            gradNorm = optimizer.Step(Step);                                                       // clip, schedule, AdamW
            optimizer.ZeroGrad();
            loss = total.item<float>();
            policyTerm = lossPolicy.item<float>();
            klTerm = lossKl?.item<float>() ?? 0.0;
        }
        Step++;
        return last = new MathStepMetrics(Step, scores.Average(s => s.Total), scores.Average(s => s.Correct), scores.Average(s => s.Format),
            generated.Lengths.Average(), loss, policyTerm, klTerm, lr, gradNorm, updated, watch.Elapsed.TotalSeconds);
    }

    private MathProblem[] NextProblems(int count)
    {
        var batch = new MathProblem[count];
        for (var i = 0; i < count; i++)
        {
            var epoch = (int)(DataPosition / problems.Count);
            var index = (int)(DataPosition % problems.Count);
            if (index == 0 && DataPosition > 0) order = Shuffle(epoch);
            batch[i] = problems[order[index]];
            DataPosition++;
        }
        return batch;
    }

    private int[] Shuffle(int epoch)
    {
        var indices = Enumerable.Range(0, problems.Count).ToArray();
        new Random(unchecked(config.Schedule.Seed * 7919 + epoch) & int.MaxValue).Shuffle(indices);
        return indices;
    }

    /// <summary>Where training stands: step, data position, random state and the last step's metrics.</summary>
    public TrainerState State()
    {
        using var samplerState = sampler.RngState;
        var metrics = last is null ? null : new Dictionary<string, double>
        {
            ["reward"] = last.Reward, ["correct"] = last.Correct, ["format"] = last.Format, ["completionTokens"] = last.CompletionTokens, ["loss"] = last.Loss,
        };
        return new TrainerState(Step, DataPosition, TokensSeen: 0, Trainer: TrainerName,
            TorchRngState: Checkpoint.CaptureTorchRng(), SamplerRngState: Convert.ToBase64String(samplerState.bytes), Metrics: metrics);
    }

    /// <summary>Writes a checkpoint (weights, tokenizer, optimizer, trainer state and this PostTrainConfig
    /// as stage_config.json) to <paramref name="dir"/>.</summary>
    public string SaveCheckpoint(string dir) =>
        Checkpoint.Save(dir, Policy, Tokenizer, State(), optimizer.Inner, RmtJson.Serialize(config, indented: true));

    /// <summary>Continues from a checkpoint this trainer wrote (weights already loaded into the
    /// policy): AdamW moments (when the checkpoint has them; else they restart), step, data position
    /// and random state.</summary>
    public void RestoreState(string dir)
    {
        var state = Checkpoint.ReadState(dir) ?? throw new FileNotFoundException($"checkpoint '{dir}' has no {Checkpoint.TrainerStateFile}");
        if (state.Trainer != TrainerName) throw new InvalidOperationException($"checkpoint '{dir}' was written by the '{state.Trainer}' trainer, not '{TrainerName}'; post-train from it as a base checkpoint instead");
        if (File.Exists(Path.Combine(dir, Checkpoint.OptimizerFile))) Checkpoint.LoadOptimizer(dir, optimizer.Inner);
        Step = state.Step;
        DataPosition = state.DataPosition;
        order = Shuffle((int)(DataPosition / problems.Count));
        if (state.TorchRngState is not null) Checkpoint.RestoreTorchRng(state.TorchRngState);
        if (state.SamplerRngState is not null)
        {
            using var rng = tensor(Convert.FromBase64String(state.SamplerRngState), dtype: ScalarType.Byte);
            sampler.RngState = rng;
        }
    }

    public void Dispose()
    {
        sampler.Dispose();
        optimizer.Dispose();
    }
}

using System.Diagnostics;
using System.Globalization;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.Rl;
using Rmt.Training.Tokenizers;
using Rmt.Training.Optimization;
using static TorchSharp.torch;

namespace Rmt.Training.MidTraining;

// Reinforcement Mid-Training (arXiv 2509.24375), one optimizer step:
//   1. B_t = max(B_min, floor(B_0 gamma^(t/T)))                       (a) dynamic budget
//   2. draw BatchSize key positions: tier ~ p_t, position ~ U(tier)    (b) curriculum
//   3. prompt = context + " [budget B_t]" + <think>; sample G responses with the KV-cache sampler
//   4. parse (<think> c </think> y), r = (1-w) 1[y == x_pos] + w r_len(l, B_t), malformed = 0
//   5. A_i = (r_i - mean) / (std + delta) per group (GRPO)
//   6. L = L_GRPO (+ beta KL_k3) + lambda L_NTP                        (c) dual training
//      L_NTP: cross-entropy on every other position of the context window around each key position
//   7. AdamW step (warm-up + cosine), gradient clipping.
// Departures from the paper, all for tiny CPU models: the budget hint is plain text " [budget B]";
// one optimizer step per rollout batch by default (ratio = 1, so clipping only acts with
// updatesPerBatch > 1); rollouts with zero advantage are not re-scored (their policy gradient is 0)
// unless the KL term needs them, and the policy loss is always divided by the response tokens of the
// whole batch, so the RL step size does not depend on klWeight (RPT, as its paper ran it, has no KL). Baselines: NtpWeight = 0 (RPT, w/o NTP), Budget.Enabled = false,
// Curriculum.Enabled = false, Reinforcement = false (NTP continued, BatchSize x G windows per step).

/// <summary>What one step did (averages over its rollouts), in the trainer's own detail (loss terms,
/// tier mix, learning rate; experiments keep it). The job reports a step as Rmt.Contracts' StageProgress.</summary>
public sealed record MidTrainStepStats(
    int Step, double Reward, double Accuracy, double WellFormed, int? Budget, double ReasoningLength,
    LossTerms Loss, double TokensPerSecond, double Seconds, TierMix Mix, double LearningRate);

/// <summary>The RMT trainer and every baseline / ablation that is a configuration of it
/// (<see cref="MidTrainPresets"/>). Owns the optimizer, the sampler and their state; the policy and
/// reference models belong to the caller. Driven one step at a time (<see cref="TrainStep"/>, then
/// <see cref="SaveCheckpoint"/> / <see cref="RestoreState"/>), by the mid-train executor as by
/// <c>MathGrpoTrainer</c>'s.</summary>
public sealed class RmtTrainer : IDisposable
{
    private readonly CausalLM policy;
    private readonly CausalLM? reference;
    private readonly ITokenizer tokenizer;
    private readonly IReadOnlyList<int> corpus;
    private readonly NextTokenRollouts rollouts;
    private readonly CombinedReward reward;
    private readonly BudgetSchedule budget;
    private readonly KeyPositionSampler keySampler;
    private readonly TextSampler sampler;
    private readonly PolicyOptimizer optimizer;
    private readonly GrpoPolicyLoss policyLoss;
    private readonly KlPenalty? kl;
    private readonly NextTokenLoss ntpLoss = new();
    private readonly DualObjective objective;
    private readonly List<MidTrainStepStats> history = [];

    /// <param name="corpus">Training tokens (documents joined by end-of-text).</param>
    /// <param name="entropies">Proxy top-k entropy of every corpus position (<see cref="TokenEntropy"/>).</param>
    /// <param name="reference">Frozen reference policy; required when Grpo.KlWeight > 0.</param>
    public RmtTrainer(MidTrainConfig config, CausalLM policy, ITokenizer tokenizer, IReadOnlyList<int> corpus, IReadOnlyList<float> entropies, CausalLM? reference = null)
    {
        config.Validate();
        if (entropies.Count != corpus.Count)
            throw new ArgumentException($"{entropies.Count} entropies for {corpus.Count} corpus tokens; compute them for this corpus (TokenEntropy.Compute)", nameof(entropies));
        if (config.Reinforcement && config.Grpo.KlWeight > 0 && reference is null)
            throw new ArgumentException("midTrain.grpo.klWeight > 0 needs a frozen reference model; pass one or set klWeight to 0", nameof(reference));
        if (config.ContextTokens + 1 + config.NtpTailTokens > policy.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"midTrain.contextTokens + 1 + ntpTailTokens = {config.ContextTokens + 1 + config.NtpTailTokens} exceeds the model context {policy.Config.MaxPositionEmbeddings}; lower them");
        Config = config;
        if (Devices.AutocastDtype(policy.Device) is ScalarType compute) policy.ComputeDtype ??= compute; // bf16 compute on CUDA
        this.policy = policy;
        this.reference = reference;
        this.tokenizer = tokenizer;
        this.corpus = corpus;
        var format = new ReasoningFormat(tokenizer, config.Rollout.AnswerFormat);
        rollouts = new NextTokenRollouts(format, config.ContextTokens);
        int longestPrompt = config.ContextTokens + tokenizer.Encode(ReasoningFormat.BudgetHint(config.Budget.Initial)).Length + 1;
        if (config.Reinforcement && longestPrompt + rollouts.MaxNewTokens(config.Rollout.MaxReasoningTokens) > policy.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"prompt ({longestPrompt}) + response ({rollouts.MaxNewTokens(config.Rollout.MaxReasoningTokens)}) tokens exceed the model context {policy.Config.MaxPositionEmbeddings}; lower midTrain.contextTokens or midTrain.rollout.maxReasoningTokens");
        reward = CombinedReward.From(config.Reward, tokenizer, config.Rollout.AnswerFormat);
        budget = new BudgetSchedule(config.Budget, config.Schedule.Steps);
        keySampler = new KeyPositionSampler(entropies, config.Curriculum, config.Schedule.Steps);
        sampler = new TextSampler(policy, config.Schedule.Seed);
        optimizer = new PolicyOptimizer(policy, config.Schedule);
        policyLoss = new GrpoPolicyLoss(config.Grpo.Clip, config.Grpo.ClipRange);
        kl = config.Reinforcement && config.Grpo.KlWeight > 0 ? new KlPenalty(config.Grpo.KlWeight) : null;
        objective = new DualObjective(config.Reinforcement ? config.NtpWeight : 1.0);
    }

    public MidTrainConfig Config { get; }

    /// <summary>Steps completed (the next step's index).</summary>
    public int Step { get; private set; }

    /// <summary>Tokens generated and trained on so far.</summary>
    public long TokensSeen { get; private set; }

    public IReadOnlyList<MidTrainStepStats> History => history;
    public KeyPositionSampler KeySampler => keySampler;
    public PolicyOptimizer Optimizer => optimizer;
    public TextSampler Sampler => sampler;

    /// <summary>One optimizer step (or UpdatesPerBatch steps on the same rollouts).</summary>
    public MidTrainStepStats TrainStep()
    {
        var watch = Stopwatch.StartNew();
        int t = Step;
        var stats = Config.Reinforcement ? ReinforcementStep(t, watch) : NtpOnlyStep(t, watch);
        history.Add(stats);
        TokensSeen += (long)(stats.TokensPerSecond * stats.Seconds);
        Step++;
        return stats;
    }

    /// <summary>The positions step <paramref name="step"/> trains on: key positions (RL) or NTP window
    /// centres (NTP-only, BatchSize x G of them). A function of (seed, step) only, in every process,
    /// so a resumed or rerun job draws exactly what the first one drew.</summary>
    public int[] PositionsAt(int step)
    {
        int count = Config.Reinforcement ? Config.Schedule.BatchSize : Config.Schedule.BatchSize * Config.GroupSize;
        return keySampler.Draw(step, count, new Random(StableSeed.Mix(Config.Schedule.Seed, step)));
    }

    private MidTrainStepStats ReinforcementStep(int t, Stopwatch watch)
    {
        int? b = budget.At(t);
        var positions = PositionsAt(t);
        var keys = positions.Select(p => rollouts.At(corpus, p, b)).ToArray();
        var options = rollouts.Options(Config.Rollout.MaxReasoningTokens, Config.Rollout.Temperature, Config.Rollout.TopP, greedy: false);
        var batch = rollouts.Generate(sampler, keys, Config.GroupSize, options);

        var rewards = batch.Select(r => reward.Score(r.Parsed, r.Key.Context)).ToArray();
        var accuracy = batch.Select(r => reward.Accuracy.Score(r.Parsed, r.Key.Context)).ToArray();
        var advantages = GroupAdvantages.Compute(rewards, Config.GroupSize, Config.Grpo.AdvantageEpsilon);
        long tokens = batch.Sum(r => (long)r.Response.Length);
        double batchTokens = batch.Sum(r => (double)Math.Min(r.Parsed.ScoredLength, r.Response.Length)); // the policy loss's denominator

        LossTerms terms = new(0, 0, 0, 0);
        for (int u = 0; u < Config.Grpo.UpdatesPerBatch; u++)
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            var scored = Enumerable.Range(0, batch.Length).Where(i => advantages[i] != 0 || kl is not null).ToArray();
            Tensor? rl = null, klTerm = null;
            if (scored.Length > 0)
            {
                var (ids, mask, oldLogProbs, adv) = PolicyBatch(batch, advantages, scored);      // (N, L), (N, L-1), (N, L-1), (N)
                var logProbs = SequenceScorer.TokenLogProbs(policy, ids, null, Config.Rollout.Temperature); // (N, L-1)
                rl = policyLoss.Compute(logProbs, oldLogProbs, adv, mask, batchTokens);        // ()
                if (kl is not null)
                {
                    Tensor refLogProbs;
                    using (no_grad()) refLogProbs = SequenceScorer.TokenLogProbs(reference!, ids, null, Config.Rollout.Temperature); // (N, L-1)
                    klTerm = kl.Compute(logProbs, refLogProbs, mask);                          // ()
                }
                tokens += ids.numel();
            }
            Tensor? ntp = null;
            if (Config.NtpWeight > 0)
            {
                var (input, targets, ntpMask) = NtpWindows(positions, excludeKey: true);       // (B, W), (B, W), (B, W)
                ntp = ntpLoss.Compute(policy.Forward(input), targets, ntpMask);                 // ()
                tokens += input.numel();
            }
            if (rl is null && klTerm is null && ntp is null)
            {
                terms = new LossTerms(0, 0, 0, 0); // every group had equal rewards and nothing else to learn
                break;
            }
            var (loss, parts) = objective.Combine(rl, klTerm, ntp);
            loss.backward();
            optimizer.Step(t);
            terms = parts;
        }

        double seconds = watch.Elapsed.TotalSeconds;
        return new MidTrainStepStats(t, rewards.Average(), accuracy.Average(), batch.Average(r => r.Parsed.WellFormed ? 1.0 : 0.0), b,
            batch.Average(r => (double)r.Parsed.ReasoningTokens), terms, tokens / Math.Max(seconds, 1e-9), seconds,
            keySampler.EffectiveMix(t), PolicyOptimizer.LearningRateAt(Config.Schedule, t));
    }

    private MidTrainStepStats NtpOnlyStep(int t, Stopwatch watch)
    {
        // Same compute as RMT in sequences: BatchSize x G windows around positions drawn like RMT's key positions.
        var positions = PositionsAt(t);
        LossTerms terms;
        long tokens;
        using (var scope = NewDisposeScope())
        {
            optimizer.ZeroGrad();
            var (input, targets, mask) = NtpWindows(positions, excludeKey: false);              // (B, W) each
            var ntp = ntpLoss.Compute(policy.Forward(input), targets, mask);                      // ()
            var (loss, parts) = objective.Combine(null, null, ntp);
            loss.backward();
            optimizer.Step(t);
            terms = parts;
            tokens = input.numel();
        }
        double seconds = watch.Elapsed.TotalSeconds;
        return new MidTrainStepStats(t, 0, 0, 0, null, 0, terms, tokens / Math.Max(seconds, 1e-9), seconds,
            keySampler.EffectiveMix(t), PolicyOptimizer.LearningRateAt(Config.Schedule, t));
    }

    /// <summary>The selected rollouts packed for teacher forcing (<see cref="RolloutBatch"/>), and their advantages.</summary>
    private (Tensor Ids, Tensor Mask, Tensor OldLogProbs, Tensor Advantages) PolicyBatch(Rollout[] batch, double[] advantages, int[] selected)
    {
        var rows = selected.Select(i => batch[i])
            .Select(r => new RolloutRow(r.Key.Prompt, r.Response, r.LogProbs, Math.Min(r.Parsed.ScoredLength, r.Response.Length))).ToList();
        var packed = RolloutBatch.Build(rows, tokenizer.EndOfText, policy.Device);
        var adv = selected.Select(i => (float)advantages[i]).ToArray();
        return (packed.Ids, packed.CompletionMask, packed.SampledLogProbs, tensor(adv, [selected.Length]).to(policy.Device)); // (N, L), (N, L-1), (N, L-1), (N)
    }

    /// <summary>NTP windows around key positions: tokens [pos - C, pos + tail], inputs = all but the
    /// last, targets = all but the first, right-padded. With <paramref name="excludeKey"/> the target
    /// x_pos itself is masked out (the RL objective predicts it by reasoning).</summary>
    private (Tensor Input, Tensor Targets, Tensor Mask) NtpWindows(int[] positions, bool excludeKey)
    {
        int c = Config.ContextTokens, tail = Config.NtpTailTokens;
        var spans = positions.Select(p => (Start: Math.Max(0, p - c), End: Math.Min(corpus.Count, p + tail + 1), Key: p)).ToArray();
        int width = Math.Max(1, spans.Max(s => s.End - s.Start) - 1);
        int n = spans.Length;
        var input = new long[n * width];
        var targets = new long[n * width];
        var mask = new float[n * width];
        Array.Fill(input, tokenizer.EndOfText);
        Array.Fill(targets, tokenizer.EndOfText);
        for (int row = 0; row < n; row++)
        {
            var (start, end, key) = spans[row];
            for (int j = 0; j < end - start - 1; j++)
            {
                input[row * width + j] = corpus[start + j];
                targets[row * width + j] = corpus[start + j + 1];
                mask[row * width + j] = excludeKey && start + j + 1 == key ? 0f : 1f;
            }
        }
        var device = policy.Device;
        return (
            tensor(input, [n, width], int64).to(device),               // (B, W)
            tensor(targets, [n, width], int64).to(device),             // (B, W)
            tensor(mask, [n, width]).to(device));                      // (B, W)
    }

    /// <summary>Where training stands: step, tokens, sampler RNG and the last step's metrics.</summary>
    public TrainerState State()
    {
        using var rng = sampler.RngState;
        var last = history.Count > 0 ? history[^1] : null;
        var metrics = last is null ? null : new Dictionary<string, double>
        {
            ["reward"] = last.Reward, ["accuracy"] = last.Accuracy, ["reasoningLength"] = last.ReasoningLength,
            ["budget"] = last.Budget ?? 0, ["loss"] = last.Loss.Total,
        };
        return new TrainerState(Step, Step, TokensSeen, Trainer: "rmt",
            TorchRngState: Checkpoint.CaptureTorchRng(), SamplerRngState: Convert.ToBase64String(rng.bytes),
            LastLoss: last?.Loss.Total, Metrics: metrics);
    }

    /// <summary>Writes a checkpoint (weights, tokenizer, optimizer, trainer state and this MidTrainConfig
    /// as stage_config.json) to <paramref name="dir"/>.</summary>
    public string SaveCheckpoint(string dir) =>
        Checkpoint.Save(dir, policy, tokenizer, State(), optimizer.Inner, RmtJson.Serialize(Config, indented: true));

    /// <summary>Continues from a checkpoint whose weights the policy already holds: optimizer state,
    /// step (key positions of step t depend on t only), tokens seen and sampler RNG.</summary>
    public void RestoreState(string dir)
    {
        var state = Checkpoint.ReadState(dir) ?? throw new FileNotFoundException($"checkpoint '{dir}' has no {Checkpoint.TrainerStateFile}; it cannot resume mid-training");
        if (state.Trainer != "rmt") throw new InvalidOperationException($"checkpoint '{dir}' was written by the '{state.Trainer}' trainer, not 'rmt'; start mid-training from it as a base model instead");
        Checkpoint.LoadOptimizer(dir, optimizer.Inner);
        Step = state.Step;
        TokensSeen = state.TokensSeen;
        if (state.TorchRngState is not null) Checkpoint.RestoreTorchRng(state.TorchRngState);
        if (state.SamplerRngState is not null)
        {
            using var rng = tensor(Convert.FromBase64String(state.SamplerRngState), dtype: ScalarType.Byte);
            sampler.RngState = rng;
        }
    }

    /// <summary>Reads the MidTrainConfig saved in a checkpoint (stage_config.json), validated.</summary>
    public static MidTrainConfig ReadConfig(string dir)
    {
        var json = Checkpoint.ReadStageConfig(dir) ?? throw new FileNotFoundException($"checkpoint '{dir}' has no {Checkpoint.StageConfigFile}");
        var config = RmtJson.Parse<MidTrainConfig>(json, Path.Combine(dir, Checkpoint.StageConfigFile));
        config.Validate();
        return config;
    }

    public void Dispose()
    {
        optimizer.Dispose();
        sampler.Dispose();
    }
}

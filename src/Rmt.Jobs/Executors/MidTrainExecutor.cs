using System.Globalization;
using System.Text;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Jobs.Executors;

/// <summary>mid-train: Reinforcement Mid-Training with the <see cref="RmtTrainer"/>, or one of its
/// baselines and ablations, which are configurations of the same trainer (MidTrainPresets: RPT,
/// no budget, no curriculum, no NTP, NTP continued). Starts from the job's base checkpoint, or
/// resumes from the stage's newest checkpoint (optimizer, step, sampler RNG). Key positions are
/// tiered by the top-k entropy of the proxy model (the base checkpoint), computed once and cached
/// beside the corpus. With an eval dataset the stage ends with the paper's evaluation: next-token
/// accuracy by entropy tier with reasoning, and mean reasoning length.</summary>
public sealed class MidTrainExecutor : IStageExecutor
{
    public StageKind Kind => StageKind.MidTrain;

    public long TotalSteps(StageJob job) => Config(job).Schedule.Steps;

    public async Task<ExecutorOutcome> RunAsync(StageContext context, CancellationToken ct)
    {
        var config = Config(context.Job);
        config = config with { Schedule = config.Schedule with { Device = context.DeviceFor(config.Schedule.Device) } };
        var baseDir = context.RequiredBaseCheckpointDir;
        if (config.Curriculum.ProxyCheckpoint is { } proxy && !Directory.Exists(proxy))
            throw new ContractException(
                $"midTrain.curriculum.proxyCheckpoint '{proxy}' is not a local folder; a job computes entropies with its base checkpoint, so leave it null");
        var device = Devices.Parse(config.Schedule.Device);
        var corpusPath = StageData.SingleFile(context.DatasetPath, "mid-train dataset");
        var start = context.Resume?.LocalDir ?? baseDir;

        using var loaded = Checkpoint.Load(start, device);
        var tokens = loaded.Tokenizer.Encode(File.ReadAllText(corpusPath));
        if (tokens.Length < config.ContextTokens + 2)
            throw new ContractException($"mid-train dataset has {tokens.Length} tokens; midTrain.contextTokens={config.ContextTokens} needs more. Give a larger corpus");
        var entropies = Entropies(config, config.Curriculum.ProxyCheckpoint ?? baseDir, corpusPath, context.CacheDir, tokens, device);
        using var reference = config.Grpo.KlWeight > 0 ? ModelIO.Load(baseDir, device) : null;
        using var trainer = new RmtTrainer(config, loaded.Model, loaded.Tokenizer, tokens, entropies, reference);
        if (context.Resume is { } resume)
        {
            trainer.RestoreState(resume.LocalDir);
            context.Logger.LogResume(resume.Checkpoint.Step, trainer.Step);
        }

        void Save(string dir) => trainer.SaveCheckpoint(dir);
        while (trainer.Step < config.Schedule.Steps)
        {
            ct.ThrowIfCancellationRequested();
            var s = trainer.TrainStep();
            if (!double.IsFinite(s.Loss.Total))
                throw new InvalidOperationException($"mid-train loss is {s.Loss.Total} at step {trainer.Step}; lower midTrain.schedule.learningRate");
            await context.AfterStepAsync(context.Progress(trainer.Step, loss: s.Loss.Total, reward: s.Reward, accuracy: s.Accuracy,
                budget: s.Budget, reasoningLength: s.ReasoningLength, tokensPerSecond: s.TokensPerSecond), Save, ct);
        }
        await context.SaveFinalCheckpointAsync(trainer.Step, Save, ct);

        var metrics = new Dictionary<string, double> { ["steps"] = trainer.Step, ["tokens_seen"] = trainer.TokensSeen };
        if (trainer.History.Count > 0)
        {
            var last = trainer.History.TakeLast(Math.Max(1, config.Schedule.ProgressEvery)).ToList();
            metrics["train_reward"] = last.Average(x => x.Reward);
            metrics["train_accuracy"] = last.Average(x => x.Accuracy);
            metrics["train_reasoning_length"] = last.Average(x => x.ReasoningLength);
        }
        var sections = new List<string> { Describe(config) };
        if (context.EvalDatasetPath is { } evalPath)
        {
            var evalFile = StageData.SingleFile(evalPath, "mid-train eval dataset");
            var evalTokens = loaded.Tokenizer.Encode(File.ReadAllText(evalFile));
            var evalEntropies = Entropies(config, config.Curriculum.ProxyCheckpoint ?? baseDir, evalFile, context.CacheDir, evalTokens, device);
            var tiers = new EntropyTiers(config.Curriculum);
            var finalBudget = trainer.History.Count > 0 ? trainer.History[^1].Budget : null; // the budget the policy ended training with
            var options = new NextTokenEvalOptions(Reasoning: config.Reinforcement, Budget: config.Budget.Enabled ? finalBudget : null,
                PositionsPerTier: config.EvalPositionsPerTier, ContextTokens: config.ContextTokens, MaxReasoningTokens: config.Rollout.MaxReasoningTokens,
                AnswerFormat: config.Rollout.AnswerFormat, Seed: config.Schedule.Seed);
            // The untrained base on the same positions with the same hint: what training added. Its argmax is the NTP row.
            using var untrained = ModelIO.Load(baseDir, device);
            var rows = new List<(string Method, NextTokenEvaluation Result)>
            {
                ("this run, with reasoning", NextTokenEvaluator.Evaluate(loaded.Model, loaded.Tokenizer, evalTokens, evalEntropies, tiers, options)),
                ("untrained base, same hint", NextTokenEvaluator.Evaluate(untrained, loaded.Tokenizer, evalTokens, evalEntropies, tiers, options)),
                ("untrained base, next-token argmax", NextTokenEvaluator.Evaluate(untrained, loaded.Tokenizer, evalTokens, evalEntropies, tiers, options with { Reasoning = false })),
            };
            foreach (var ((_, result), model) in rows.Zip(new string?[] { null, StageMetricNames.UntrainedBase, StageMetricNames.NtpBaseline }))
                NextTokenMetrics.Add(metrics, model, result);
            sections.Add("## Held-out next-token accuracy\n\n" +
                string.Create(CultureInfo.InvariantCulture,
                    $"{options.PositionsPerTier} positions per tier of `{context.Job.EvalDataset}`, {NextTokenMetrics.TierSource(config.Curriculum, "base's")}; budget hint {(options.Budget is int b ? b.ToString(CultureInfo.InvariantCulture) : "none")} (the budget training ended with), at most {options.MaxReasoningTokens} reasoning tokens.\n\n") +
                NextTokenEvaluator.MarkdownTable(rows));
        }
        return new ExecutorOutcome(trainer.Step, metrics, HasCheckpoint: true, sections, []);
    }

    private static MidTrainConfig Config(StageJob job) =>
        job.MidTrain ?? throw new ContractException("stage job of kind 'mid-train' has no 'midTrain' config; add it");

    /// <summary>Proxy top-k entropies of every corpus position, cached in the stage's cache folder (keyed by the tokens and the proxy's files).</summary>
    private static float[] Entropies(MidTrainConfig config, string proxyDir, string dataPath, string cacheDir, IReadOnlyList<int> tokens, TorchSharp.torch.Device device)
    {
        var cacheTarget = Path.Combine(cacheDir, "entropy", Path.GetFileName(dataPath));
        Directory.CreateDirectory(Path.GetDirectoryName(cacheTarget)!);
        var (entropies, _) = EntropyCache.LoadOrCompute(cacheTarget, tokens, EntropyCache.Fingerprint(proxyDir), config.Curriculum.TopK, () =>
        {
            using var proxy = ModelIO.Load(proxyDir, device);
            return TokenEntropy.Compute(proxy, tokens, config.Curriculum.TopK);
        });
        return entropies;
    }

    /// <summary>Which method this is (RMT or which baseline) and its knobs, for the report.</summary>
    private static string Describe(MidTrainConfig c)
    {
        var method = !c.Reinforcement ? "NTP continued training (baseline)"
            : c.NtpWeight == 0 && !c.Budget.Enabled && !c.Curriculum.Enabled ? "RPT (RL only: no budget, no curriculum, no NTP)"
            : $"RMT{(c.Budget.Enabled ? "" : " without budget")}{(c.Curriculum.Enabled ? "" : " without curriculum")}{(c.NtpWeight > 0 ? "" : " without NTP")}";
        return new StringBuilder()
            .AppendLine("## Method")
            .AppendLine()
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{method}: G = {c.GroupSize}, lambda (NTP weight) = {c.NtpWeight}, budget {(c.Budget.Enabled ? $"B_0 {c.Budget.Initial}, B_min {c.Budget.Minimum}, gamma {c.Budget.Gamma}" : "off")}, ") +
                string.Create(CultureInfo.InvariantCulture,
                $"curriculum {(c.Curriculum.Enabled ? "on" : "off")}, reward {c.Reward.Match} (length weight {c.Reward.LengthWeight}), answer format {c.Rollout.AnswerFormat}, KL {c.Grpo.KlWeight}."))
            .ToString();
    }
}

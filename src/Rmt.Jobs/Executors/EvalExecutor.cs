using System.Globalization;
using System.Text;
using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.PostTraining;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Jobs.Executors;

/// <summary>eval: scores the job's base checkpoint on its dataset. A .jsonl dataset is GSM8K-format
/// math (greedy accuracy, pass@k, format rate; the post-training evaluator with PostTrainConfig's
/// generation defaults); anything else is text for the paper's next-token protocol: accuracy by
/// entropy tier without reasoning (NTP argmax) and with reasoning (greedy &lt;think&gt;), and mean
/// reasoning length. Tiers come from the evaluated checkpoint's own top-16 entropies. Produces no
/// checkpoint.</summary>
public sealed class EvalExecutor : IStageExecutor
{
    public StageKind Kind => StageKind.Eval;

    /// <summary>Evaluation passes: math is one; next-token is two (without and with reasoning).</summary>
    public long TotalSteps(StageJob job) => IsMath(job.Dataset) ? 1 : 2;

    public async Task<ExecutorOutcome> RunAsync(StageContext context, CancellationToken ct)
    {
        var config = context.Job.Eval ?? throw new ContractException("stage job of kind 'eval' has no 'eval' config; add it");
        var checkpoint = context.RequiredBaseCheckpointDir;
        var device = Devices.Parse(context.DeviceFor(config.Device));
        var data = StageData.SingleFile(context.DatasetPath, "eval dataset");
        return IsMath(data) || IsMath(context.Job.Dataset)
            ? await MathAsync(context, config, checkpoint, data, device, ct)
            : await NextTokenAsync(context, config, checkpoint, data, device, ct);
    }

    private static bool IsMath(string? path) => path is not null && path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    private static async Task<ExecutorOutcome> MathAsync(StageContext context, EvalConfig config, string checkpoint, string data,
        TorchSharp.torch.Device device, CancellationToken ct)
    {
        CausalLM model;
        ITokenizer tokenizer;
        try
        {
            (model, tokenizer) = PostTrainSetup.LoadBase(checkpoint, device);
        }
        catch (PostTrainException e)
        {
            throw new ContractException($"eval: {e.Message}", e);
        }
        using (model)
        {
            var generation = new PostTrainConfig();
            var problems = Gsm8kLoader.Load(data)
                .Where(p => MathTokens.EncodePrompt(tokenizer, p).Length + generation.MaxNewTokens <= model.Config.MaxPositionEmbeddings)
                .Take(config.MaxExamples).ToList();
            if (problems.Count == 0) throw new ContractException($"eval dataset '{context.Job.Dataset}' has no problem that fits the model context");
            var evaluator = new MathEvaluator(model, tokenizer, generation.MaxNewTokens, generation.Temperature, generation.PassAtK, generation.EvalSamples);
            var result = evaluator.Evaluate(problems, config.Seed);
            var metrics = new Dictionary<string, double>
            {
                ["problems"] = result.Problems,
                [StageMetricNames.Accuracy] = result.Accuracy,
                [$"math_pass_at_{result.K}"] = result.PassAtK,
                ["math_sampled_accuracy"] = result.SampledAccuracy,
                ["math_format_rate"] = result.FormatRate,
                ["math_completion_tokens"] = result.MeanCompletionTokens,
            };
            await context.ReportAsync(context.Progress(1, accuracy: result.Accuracy, reasoningLength: result.MeanCompletionTokens), ct);
            var section = new StringBuilder().AppendLine("## Math evaluation").AppendLine()
                .AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"{result.Problems} problems: greedy accuracy {result.Accuracy:P1}, pass@{result.K} {result.PassAtK:P1}, format {result.FormatRate:P1}, mean completion {result.MeanCompletionTokens:F1} tokens."))
                .AppendLine();
            foreach (var e in result.Examples)
                section.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- {(e.Correct ? "right" : "wrong")} (reference {e.Reference}): `{Flat(e.Question)}` -> `{Flat(e.Completion)}`"));
            return new ExecutorOutcome(1, metrics, HasCheckpoint: false, [section.ToString()], []);
        }
    }

    private static async Task<ExecutorOutcome> NextTokenAsync(StageContext context, EvalConfig config, string checkpoint, string data,
        TorchSharp.torch.Device device, CancellationToken ct)
    {
        using var loaded = Rmt.Training.Checkpoints.Checkpoint.Load(checkpoint, device);
        var tokens = loaded.Tokenizer.Encode(File.ReadAllText(data));
        // A mid-trained checkpoint is evaluated the way it was trained: its context length, reasoning
        // length, answer format, entropy tiers (noise threshold included) and the budget hint it ended
        // with (stage_config.json, trainer_state.json); any other checkpoint with mid-training's defaults.
        // Both shrink to fit the model's context: prompt = context + budget hint and think markers
        // (margin 16), then the reasoning and the answer.
        var state = Rmt.Training.Checkpoints.Checkpoint.ReadState(checkpoint);
        var trained = state?.Trainer == "rmt" ? RmtTrainer.ReadConfig(checkpoint) : null;
        var midTrain = trained ?? new MidTrainConfig();
        var entropies = TokenEntropy.Compute(loaded.Model, tokens, midTrain.Curriculum.TopK);
        var tiers = new EntropyTiers(midTrain.Curriculum);
        int? budget = null;
        if (trained is { Budget.Enabled: true } && state?.Metrics is { } saved && saved.TryGetValue("budget", out var ended) && ended > 0)
            budget = (int)ended;
        var perTier = Math.Max(1, config.MaxExamples / 3);
        var window = loaded.Model.Config.MaxPositionEmbeddings;
        var maxReasoning = Math.Min(midTrain.Rollout.MaxReasoningTokens, trained is null ? window / 4 : window - 20);
        var contextTokens = Math.Min(midTrain.ContextTokens, window - maxReasoning - 16);
        if (contextTokens < 4)
            throw new ContractException($"eval: the checkpoint's context of {window} tokens is too short for next-token evaluation with reasoning");
        var rows = new List<(string Method, NextTokenEvaluation Result)>();
        var metrics = new Dictionary<string, double>();
        foreach (var (reasoning, step, name) in new[] { (false, 1L, "ntp"), (true, 2L, "reasoning") })
        {
            var options = new NextTokenEvalOptions(Reasoning: reasoning, Budget: reasoning ? budget : null, PositionsPerTier: perTier,
                ContextTokens: contextTokens, MaxReasoningTokens: maxReasoning, AnswerFormat: midTrain.Rollout.AnswerFormat, Seed: config.Seed);
            var result = NextTokenEvaluator.Evaluate(loaded.Model, loaded.Tokenizer, tokens, entropies, tiers, options);
            rows.Add((reasoning ? "with reasoning" : "next-token argmax (NTP)", result));
            // With reasoning is the run's own model; argmax is the NTP baseline row of the report.
            NextTokenMetrics.Add(metrics, reasoning ? null : StageMetricNames.NtpBaseline, result);
            await context.ReportAsync(context.Progress(step, accuracy: double.IsFinite(result.Accuracy.Average) ? result.Accuracy.Average : null, reasoningLength: reasoning ? result.MeanReasoningLength : null), ct);
        }
        var section = "## Next-token accuracy by entropy tier\n\n" +
            string.Create(CultureInfo.InvariantCulture, $"Up to {perTier} positions per tier, {contextTokens} context tokens, at most {maxReasoning} reasoning tokens, budget hint {(budget is int h ? h.ToString(CultureInfo.InvariantCulture) : "none")}{(trained is null ? "" : " (as mid-training ended)")}; {NextTokenMetrics.TierSource(midTrain.Curriculum, "checkpoint's own")}.\n\n") +
            NextTokenEvaluator.MarkdownTable(rows);
        return new ExecutorOutcome(2, metrics, HasCheckpoint: false, [section], []);
    }

    private static string Flat(string text) => text.ReplaceLineEndings(" ").Replace("`", "'", StringComparison.Ordinal);
}

using System.Globalization;
using System.Text.Json;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using Rmt.Training.Optimization;
using static TorchSharp.torch;

namespace Rmt.Training.PostTraining;

/// <summary>What post-training reads, all local paths (the job downloads blobs first).</summary>
/// <param name="BaseCheckpoint">Folder of the starting checkpoint (config.json, model.safetensors,
/// tokenizer), e.g. the mid-training output.</param>
/// <param name="TrainData">GSM8K-format jsonl of training problems.</param>
/// <param name="EvalData">Held-out problems; null = the last <c>EvalSize</c> problems of TrainData.</param>
public sealed record PostTrainInputs(string BaseCheckpoint, string TrainData, string? EvalData);

/// <summary>Held-out scores at a step (0 = the base checkpoint).</summary>
public sealed record PostTrainEvaluation(int Step, MathEvaluation Evaluation);

/// <summary>What a post-training stage produced (the post-train executor publishes it as
/// post-train-result.json beside its report; experiments compare runs with it).</summary>
public sealed record PostTrainResult(
    MathEvaluation Before,
    MathEvaluation After,
    IReadOnlyList<MathStepMetrics> Steps,
    IReadOnlyList<PostTrainEvaluation> Evaluations,
    int TrainProblems,
    int HeldOutProblems,
    int DroppedProblems,             // problems whose prompt + maxNewTokens did not fit the model context
    MathEvaluation? AfterFormatWarmup = null, // held-out scores after the NTP format warm-up, before GRPO (null without one, and after a resume)
    int? FormatWarmupStepsTaken = null)       // the warm-up's length: formatWarmupSteps, or fewer where its target accuracy was reached (null where this attempt ran none)
{
    /// <summary>Reads and writes the result as JSON (NaN gradient norms included).</summary>
    public static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public IReadOnlyDictionary<string, double> Metrics => new Dictionary<string, double>
    {
        [StageMetricNames.AccuracyBefore] = Before.Accuracy,
        [StageMetricNames.AccuracyAfter] = After.Accuracy,
        [$"passAt{After.K}Before"] = Before.PassAtK,
        [$"passAt{After.K}After"] = After.PassAtK,
        ["sampledAccuracyBefore"] = Before.SampledAccuracy,
        ["sampledAccuracyAfter"] = After.SampledAccuracy,
        ["formatRateAfter"] = After.FormatRate,
    };
}

/// <summary>The pieces of math post-training that the post-train executor drives, in order: load and
/// check the base checkpoint (its tokenizer must write every piece of the prompt format), load the
/// problems (drop those that do not fit the context), optionally teach the answer format with a few
/// NTP steps on worked solutions (<see cref="FormatWarmup"/>), then GRPO step by step
/// (<see cref="MathGrpoTrainer"/>). The KL reference is the policy as GRPO starts, after any format
/// warm-up (as TRL and verl do): a reference that never saw the answer format would pull the policy
/// back out of it. A fresh run copies the warmed-up weights (<see cref="CopyWeights"/>); a resumed run
/// rebuilds them by replaying the seeded warm-up on the base checkpoint, so no extra copy of the
/// weights has to be stored.</summary>
public static class PostTrainSetup
{
    /// <summary>Loads the base checkpoint and refuses one whose tokenizer cannot write the format.</summary>
    public static (CausalLM Model, ITokenizer Tokenizer) LoadBase(string dir, Device device)
    {
        LoadedCheckpoint loaded;
        try
        {
            // A tokenizer without <think>/</think> gets them added past its vocabulary; a model
            // trained without them has no embedding rows there. Name the tokens, not the row count.
            if (TokenizerLoader.Exists(dir) && TokenizerLoader.Load(dir) is ByteLevelBpeTokenizer { AddedThinkTokens.Count: > 0 } bpe
                && File.Exists(Path.Combine(dir, ModelIO.ConfigFile))
                && bpe.VocabSize > ModelConfig.Load(Path.Combine(dir, ModelIO.ConfigFile)).VocabSize)
                throw new PostTrainException(
                    $"base checkpoint '{dir}' cannot be post-trained: its tokenizer has no {string.Join(" or ", bpe.AddedThinkTokens.Select(t => $"'{t}'"))} token " +
                    "and the model has no embedding row for one; math post-training needs <think> and </think> as single tokens. " +
                    "Start from a checkpoint trained with them (the byte tokenizer has them), or add them and resize the embeddings first");
            loaded = Checkpoint.Load(dir, device);
        }
        catch (TokenizerFormatException e)
        {
            throw new PostTrainException($"base checkpoint '{dir}' cannot be post-trained: {e.Message}", e);
        }
        catch (ModelFormatException e)
        {
            throw new PostTrainException($"base checkpoint '{dir}' cannot be loaded: {e.Message}", e);
        }
        try
        {
            MathTokens.Require(loaded.Tokenizer, loaded.Model, dir);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
        return (loaded.Model, loaded.Tokenizer);
    }

    /// <summary>Training and held-out problems that fit the model context with the completion budget, and how many did not.</summary>
    public static (IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> HeldOut, int Dropped) LoadProblems(
        PostTrainConfig config, PostTrainInputs inputs, ITokenizer tokenizer, int context)
    {
        var all = Gsm8kLoader.Load(inputs.TrainData);
        IReadOnlyList<MathProblem> train, heldOut;
        if (inputs.EvalData is null)
        {
            if (all.Count <= config.EvalSize)
                throw new PostTrainException($"{inputs.TrainData} has {all.Count} problems; holding out postTrain.evalSize = {config.EvalSize} leaves none to train on; lower evalSize or give an eval dataset");
            train = all.Take(all.Count - config.EvalSize).ToList();
            heldOut = all.Skip(all.Count - config.EvalSize).ToList();
        }
        else
        {
            train = all;
            heldOut = Gsm8kLoader.Load(inputs.EvalData).Take(config.EvalSize).ToList();
        }
        bool Fits(MathProblem p) => MathTokens.EncodePrompt(tokenizer, p).Length + config.MaxNewTokens <= context;
        var trainFit = train.Where(Fits).ToList();
        var heldFit = heldOut.Where(Fits).ToList();
        var dropped = train.Count - trainFit.Count + heldOut.Count - heldFit.Count;
        if (trainFit.Count == 0 || heldFit.Count == 0)
            throw new PostTrainException(
                $"no {(trainFit.Count == 0 ? "training" : "held-out")} problem fits the model context ({context} tokens) with postTrain.maxNewTokens = {config.MaxNewTokens}; lower maxNewTokens or use shorter problems");
        return (trainFit, heldFit, dropped);
    }

    /// <summary>Copies the weights of the checkpoint in <paramref name="dir"/> into <paramref name="policy"/>.</summary>
    public static void LoadWeights(CausalLM policy, string dir)
    {
        using var saved = ModelIO.Load(dir, policy.Device);
        CopyWeights(saved, policy);
    }

    public static void CopyWeights(CausalLM from, CausalLM to)
    {
        using var guard = no_grad();
        var source = from.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        foreach (var (name, parameter) in to.named_parameters()) parameter.copy_(source[name]);
    }

    /// <summary>How many of <paramref name="trainProblems"/> a warm-up with a target withholds to check
    /// on: a fifth, at least 1, at most 100 (greedy decoding of 100 problems is a second or two on CPU
    /// for the miniature's models).</summary>
    public static int WarmupCheckProblems(int trainProblems) => System.Math.Clamp(trainProblems / 5, 1, 100);

    /// <summary>NTP on the training problems rendered in the prompt format (prompt + worked
    /// completion), so a model that never saw "#### x" can earn a reward at all. Returns the steps it
    /// took: all <c>FormatWarmupSteps</c>, or, with a <c>FormatWarmupTargetAccuracy</c>, fewer: it stops
    /// at the first check (every <c>FormatWarmupCheckEvery</c> steps) whose greedy accuracy on the last
    /// <see cref="WarmupCheckProblems"/> training problems, withheld from the warm-up's text, reaches
    /// the target. The held-out problems are never looked at, and every starting checkpoint begins GRPO
    /// at about the same accuracy instead of wherever a fixed step count left it. The check is
    /// deterministic on one device, so a resumed run's replay stops at the same step.</summary>
    public static int FormatWarmup(PostTrainConfig config, CausalLM policy, ITokenizer tokenizer, IReadOnlyList<MathProblem> train, Action<string>? log = null)
    {
        var target = config.FormatWarmupTargetAccuracy;
        if (target > 0 && train.Count < 2)
            throw new PostTrainException($"postTrain.formatWarmupTargetAccuracy needs training problems to withhold and check on; there are {train.Count}; give more problems or set the target to 0");
        var check = target > 0 ? train.Skip(train.Count - WarmupCheckProblems(train.Count)).ToList() : [];
        var tokens = tokenizer.Encode(MathTokens.CorpusText(train.Take(train.Count - check.Count)));
        var length = System.Math.Min(policy.Config.MaxPositionEmbeddings, 128);
        if (tokens.Length <= length + 1) tokens = [.. Enumerable.Repeat(tokens, (length + 1) / tokens.Length + 2).SelectMany(t => t)];
        var schedule = config.Schedule with
        {
            Steps = config.FormatWarmupSteps,
            LearningRate = config.FormatWarmupLearningRate,
            WarmupSteps = System.Math.Min(config.Schedule.WarmupSteps, config.FormatWarmupSteps),
        };
        var checker = new MathEvaluator(policy, tokenizer, config.MaxNewTokens, config.Temperature, passAtK: 1, samples: 1);
        using var ntp = new NtpTrainer(policy, tokenizer, new TokenWindows(tokens, length, config.Schedule.Seed), schedule);
        for (var i = 0; i < config.FormatWarmupSteps; i++)
        {
            var step = ntp.TrainStep();
            var last = step.Step == config.FormatWarmupSteps;
            if (target > 0 && (step.Step % config.FormatWarmupCheckEvery == 0 || last))
            {
                var accuracy = checker.GreedyAccuracy(check);
                log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"format warm-up {step.Step}/{config.FormatWarmupSteps}: loss {step.Loss:F4}, greedy accuracy {accuracy:P1} on {check.Count} withheld training problems (target {target:P1})"));
                if (accuracy >= target) return step.Step;
            }
            else if (step.Step % config.Schedule.ProgressEvery == 0 || last)
                log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"format warm-up {step.Step}/{config.FormatWarmupSteps}: loss {step.Loss:F4}"));
        }
        if (target > 0) log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"format warm-up: target {target:P1} not reached in {config.FormatWarmupSteps} steps; GRPO starts from there"));
        return config.FormatWarmupSteps;
    }
}

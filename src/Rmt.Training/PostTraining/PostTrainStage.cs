using System.Globalization;
using System.Text.Json;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using Rmt.Training.Optimization;
using static TorchSharp.torch;

namespace Rmt.Training.PostTraining;

/// <summary>Where the stage reads and writes, all local paths (the job downloads blobs first).</summary>
/// <param name="BaseCheckpoint">Folder of the starting checkpoint (config.json, model.safetensors,
/// tokenizer), e.g. the mid-training output.</param>
/// <param name="TrainData">GSM8K-format jsonl of training problems.</param>
/// <param name="EvalData">Held-out problems; null = the last <c>EvalSize</c> problems of TrainData.</param>
/// <param name="OutputDir">Checkpoints go to OutputDir/step-N, the report to OutputDir/report.</param>
public sealed record PostTrainInputs(string BaseCheckpoint, string TrainData, string? EvalData, string OutputDir);

/// <summary>Held-out scores at a step (0 = the base checkpoint).</summary>
public sealed record PostTrainEvaluation(int Step, MathEvaluation Evaluation);

/// <summary>What the stage produced.</summary>
public sealed record PostTrainResult(
    MathEvaluation Before,
    MathEvaluation After,
    IReadOnlyList<MathStepMetrics> Steps,
    IReadOnlyList<PostTrainEvaluation> Evaluations,
    string FinalCheckpoint,
    string ReportPath,
    int TrainProblems,
    int HeldOutProblems,
    int DroppedProblems,             // problems whose prompt + maxNewTokens did not fit the model context
    MathEvaluation? AfterFormatWarmup = null) // held-out scores after the NTP format warm-up, before GRPO (null without one)
{
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

/// <summary>Hooks for progress events (the GPU job turns them into stage events). All optional.</summary>
public sealed class PostTrainCallbacks
{
    public Action<string>? Log { get; init; }
    public Action<MathStepMetrics>? Step { get; init; }
    public Action<PostTrainEvaluation>? Evaluated { get; init; }
    public Action<int, string>? CheckpointSaved { get; init; }
}

/// <summary>The math post-training stage, chained after any stage that writes a checkpoint:
/// load and check the base checkpoint (its tokenizer must write every piece of the prompt format),
/// load the problems (drop those that do not fit the context), score the base on held-out problems,
/// optionally teach the answer format with a few NTP steps on worked solutions, run GRPO
/// (<see cref="MathGrpoTrainer"/>) with checkpoints every <c>CheckpointEvery</c> steps, score again,
/// and write a before/after report with plots. A rerun over the same OutputDir resumes from its
/// newest checkpoint (weights, AdamW state, step, data position and RNG).</summary>
public sealed class PostTrainStage(PostTrainConfig config, PostTrainCallbacks? callbacks = null)
{
    public const string TrainerName = "post-train-grpo";
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    private readonly PostTrainCallbacks hooks = callbacks ?? new PostTrainCallbacks();

    public PostTrainResult Run(PostTrainInputs inputs, CancellationToken cancellation = default)
    {
        config.Validate();
        var device = Devices.Parse(config.Schedule.Device);
        var reportDir = Path.Combine(inputs.OutputDir, "report");
        Directory.CreateDirectory(reportDir);

        var (policy, tokenizer) = LoadBase(inputs.BaseCheckpoint, device);
        using var policyOwner = policy;
        var (train, heldOut, dropped) = LoadProblems(inputs, tokenizer, policy.Config.MaxPositionEmbeddings);
        Log($"problems: {train.Count} train, {heldOut.Count} held out, {dropped} dropped (longer than the context allows)");
        var evaluator = new MathEvaluator(policy, tokenizer, config.MaxNewTokens, config.Temperature, config.PassAtK, config.EvalSamples);
        var evalSeed = config.Schedule.Seed + 1;

        var resumeFrom = Checkpoint.Latest(inputs.OutputDir) is { } latest && Checkpoint.ReadState(latest)?.Trainer == TrainerName ? latest : null;
        var beforePath = Path.Combine(reportDir, "before.json");
        var warmedPath = Path.Combine(reportDir, "after-format-warmup.json");
        if (resumeFrom is null && File.Exists(warmedPath)) File.Delete(warmedPath);
        MathEvaluation before;
        if (resumeFrom is not null && File.Exists(beforePath))
        {
            before = JsonSerializer.Deserialize<MathEvaluation>(File.ReadAllText(beforePath), Json)
                     ?? throw new PostTrainException($"{beforePath} is empty; delete it to re-evaluate the base checkpoint");
        }
        else
        {
            before = evaluator.Evaluate(heldOut, evalSeed);
            File.WriteAllText(beforePath, JsonSerializer.Serialize(before, Json));
        }
        var evaluations = new List<PostTrainEvaluation> { new(0, before) };
        hooks.Evaluated?.Invoke(evaluations[0]);
        Log($"base: accuracy {before.Accuracy:P1}, pass@{before.K} {before.PassAtK:P1}, format {before.FormatRate:P1}");

        // The KL reference is the policy as GRPO starts, after any format warm-up (as TRL and verl do):
        // a reference that never saw the answer format would pull the policy back out of it. A fresh
        // run copies the warmed-up weights; a resumed run rebuilds them by replaying the seeded warm-up
        // on the base checkpoint, so no extra copy of the weights has to be stored.
        using var reference = config.Grpo.KlWeight > 0 ? ModelIO.Load(inputs.BaseCheckpoint, device) : null;
        if (resumeFrom is not null)
        {
            LoadWeights(policy, resumeFrom);
            Log($"resuming from {resumeFrom}");
            if (reference is not null && config.FormatWarmupSteps > 0)
            {
                Log("rebuilding the KL reference: replaying the format warm-up on the base checkpoint");
                FormatWarmup(reference, tokenizer, train);
            }
        }
        else
        {
            if (config.FormatWarmupSteps > 0)
            {
                FormatWarmup(policy, tokenizer, train);
                var warmed = evaluator.Evaluate(heldOut, evalSeed);
                File.WriteAllText(warmedPath, JsonSerializer.Serialize(warmed, Json));
                Log($"after format warm-up: accuracy {warmed.Accuracy:P1}, pass@{warmed.K} {warmed.PassAtK:P1}, format {warmed.FormatRate:P1}");
            }
            if (reference is not null) CopyWeights(policy, reference);
        }
        var afterWarmup = File.Exists(warmedPath) && config.FormatWarmupSteps > 0
            ? JsonSerializer.Deserialize<MathEvaluation>(File.ReadAllText(warmedPath), Json)
            : null;

        using var trainer = new MathGrpoTrainer(policy, reference, tokenizer, train, config);
        if (resumeFrom is not null) trainer.RestoreState(resumeFrom);
        var steps = new List<MathStepMetrics>();
        var stageConfig = RmtJson.Serialize(config, indented: true);
        string? lastCheckpoint = resumeFrom;
        while (trainer.Step < config.Schedule.Steps)
        {
            cancellation.ThrowIfCancellationRequested();
            var metrics = trainer.TrainStep();
            steps.Add(metrics);
            hooks.Step?.Invoke(metrics);
            if (metrics.Step % config.Schedule.ProgressEvery == 0)
                Log(string.Create(CultureInfo.InvariantCulture,
                    $"step {metrics.Step}/{config.Schedule.Steps}: reward {metrics.Reward:F3} correct {metrics.Correct:P1} format {metrics.Format:P1} tokens {metrics.CompletionTokens:F1} loss {metrics.Loss:F4} lr {metrics.LearningRate:G3}"));
            if (config.EvalEvery > 0 && metrics.Step % config.EvalEvery == 0 && metrics.Step < config.Schedule.Steps)
            {
                var e = new PostTrainEvaluation(metrics.Step, evaluator.Evaluate(heldOut, evalSeed));
                evaluations.Add(e);
                hooks.Evaluated?.Invoke(e);
            }
            if (metrics.Step % config.Schedule.CheckpointEvery == 0 || metrics.Step == config.Schedule.Steps)
            {
                lastCheckpoint = Checkpoint.Save(Checkpoint.StepDir(inputs.OutputDir, metrics.Step), policy, tokenizer,
                    trainer.State(StepMetrics(metrics)), trainer.Optimizer, stageConfig);
                hooks.CheckpointSaved?.Invoke(metrics.Step, lastCheckpoint);
            }
        }

        var after = evaluator.Evaluate(heldOut, evalSeed);
        evaluations.Add(new PostTrainEvaluation(trainer.Step, after));
        hooks.Evaluated?.Invoke(evaluations[^1]);
        Log($"after {trainer.Step} steps: accuracy {after.Accuracy:P1}, pass@{after.K} {after.PassAtK:P1}, format {after.FormatRate:P1}");
        var final = lastCheckpoint ?? Checkpoint.Save(Checkpoint.StepDir(inputs.OutputDir, trainer.Step), policy, tokenizer,
            trainer.State(), trainer.Optimizer, stageConfig);
        var result = new PostTrainResult(before, after, steps, evaluations, final, Path.Combine(reportDir, "post-train.md"),
            train.Count, heldOut.Count, dropped, afterWarmup);
        PostTrainReport.Write(result, config, inputs, reportDir);
        return result;
    }

    private static Dictionary<string, double> StepMetrics(MathStepMetrics m) => new()
    {
        ["reward"] = m.Reward, ["correct"] = m.Correct, ["format"] = m.Format, ["completionTokens"] = m.CompletionTokens, ["loss"] = m.Loss,
    };

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

    private (IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> HeldOut, int Dropped) LoadProblems(PostTrainInputs inputs, ITokenizer tokenizer, int context)
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

    private static void LoadWeights(CausalLM policy, string dir)
    {
        using var saved = ModelIO.Load(dir, policy.Device);
        CopyWeights(saved, policy);
    }

    private static void CopyWeights(CausalLM from, CausalLM to)
    {
        using var guard = no_grad();
        var source = from.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        foreach (var (name, parameter) in to.named_parameters()) parameter.copy_(source[name]);
    }

    /// <summary>NTP on the training problems rendered in the prompt format (prompt + worked
    /// completion), so a model that never saw "#### x" can earn a reward at all.</summary>
    private void FormatWarmup(CausalLM policy, ITokenizer tokenizer, IReadOnlyList<MathProblem> train)
    {
        var tokens = tokenizer.Encode(MathTokens.CorpusText(train));
        var length = System.Math.Min(policy.Config.MaxPositionEmbeddings, 128);
        if (tokens.Length <= length + 1) tokens = [.. Enumerable.Repeat(tokens, (length + 1) / tokens.Length + 2).SelectMany(t => t)];
        var schedule = config.Schedule with
        {
            Steps = config.FormatWarmupSteps,
            LearningRate = config.FormatWarmupLearningRate,
            WarmupSteps = System.Math.Min(config.Schedule.WarmupSteps, config.FormatWarmupSteps),
        };
        using var ntp = new NtpTrainer(policy, tokenizer, new TokenWindows(tokens, length, config.Schedule.Seed), schedule);
        for (var i = 0; i < config.FormatWarmupSteps; i++)
        {
            var step = ntp.TrainStep();
            if (step.Step % config.Schedule.ProgressEvery == 0 || step.Step == config.FormatWarmupSteps)
                Log(string.Create(CultureInfo.InvariantCulture, $"format warm-up {step.Step}/{config.FormatWarmupSteps}: loss {step.Loss:F4}"));
        }
    }

    private void Log(string message) => hooks.Log?.Invoke(message);
}

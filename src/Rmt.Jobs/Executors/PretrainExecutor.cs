using System.Globalization;
using System.Text;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using Rmt.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Jobs.Executors;

/// <summary>pretrain: next-token training with the model core's <see cref="NtpTrainer"/>. From
/// scratch (model preset + byte-level tokenizer) when the job has no base checkpoint, else continued
/// pretraining of the base. 10% of the corpus tail is held out for the final validation loss.</summary>
public sealed class PretrainExecutor : IStageExecutor
{
    /// <summary>Held-out fraction of the corpus for the final validation loss.</summary>
    public const double ValidationFraction = 0.1;

    /// <summary>Validation batches scored at the end (fixed windows, so runs compare).</summary>
    public const int ValidationBatches = 4;

    public StageKind Kind => StageKind.Pretrain;

    public long TotalSteps(StageJob job) => Config(job).Schedule.Steps;

    public async Task<ExecutorOutcome> RunAsync(StageContext context, CancellationToken ct)
    {
        var config = Config(context.Job);
        var schedule = config.Schedule with { Device = context.DeviceFor(config.Schedule.Device) };
        var device = Devices.Parse(schedule.Device);
        var corpus = StageData.ReadText(context.DatasetPath, "pretrain dataset");
        var configJson = RmtJson.Serialize(config, indented: true);

        var (trainer, tokenizer, validation) = CreateTrainer(context, config, schedule, device, corpus);
        try
        {
            void Save(string dir) => trainer.SaveCheckpoint(dir, configJson);
            while (trainer.Step < schedule.Steps)
            {
                ct.ThrowIfCancellationRequested();
                var step = trainer.TrainStep();
                if (!double.IsFinite(step.Loss))
                    throw new InvalidOperationException(
                        $"pretrain loss is {step.Loss} at step {step.Step}; lower pretrain.schedule.learningRate or raise gradClip's strictness (smaller value)");
                await context.AfterStepAsync(context.Progress(step.Step, loss: step.Loss, tokensPerSecond: step.TokensPerSecond), Save, ct);
            }

            await context.SaveFinalCheckpointAsync(trainer.Step, Save, ct);
            var metrics = new Dictionary<string, double>
            {
                ["steps"] = trainer.Step,
                ["tokens_seen"] = trainer.TokensSeen,
                ["parameters"] = trainer.Model.ParameterCount,
            };
            if (trainer.LastLoss is { } last) metrics["train_loss"] = last;
            var sections = new List<string>();
            if (validation.Length >= config.SequenceLength + 2)
            {
                var validationLoss = trainer.Evaluate(new TokenWindows(validation, config.SequenceLength, schedule.Seed), ValidationBatches, Math.Min(schedule.BatchSize, 8));
                metrics["validation_loss"] = validationLoss;
                metrics["validation_perplexity"] = Math.Exp(validationLoss);
            }
            sections.Add(Sample(trainer.Model, tokenizer, corpus, config.SequenceLength, schedule.Seed));
            return new ExecutorOutcome(trainer.Step, metrics, HasCheckpoint: true, sections, []);
        }
        finally
        {
            trainer.Dispose();
            trainer.Model.Dispose();
        }
    }

    /// <summary>The trainer: resumed from the stage's own checkpoint, started from the base
    /// checkpoint, or from a fresh preset model with the byte-level tokenizer.</summary>
    private static (NtpTrainer Trainer, ITokenizer Tokenizer, int[] Validation) CreateTrainer(
        StageContext context, PretrainConfig config, TrainingSchedule schedule, Device device, string corpus)
    {
        if (context.Resume is { } resume)
        {
            var tokenizer = TokenizerLoader.Load(resume.LocalDir);
            var (train, validation) = Split(tokenizer, corpus, config);
            var trainer = NtpTrainer.Resume(resume.LocalDir, new TokenWindows(train, config.SequenceLength, schedule.Seed), schedule, device);
            context.Logger.LogResume(resume.Checkpoint.Step, trainer.Step);
            return (trainer, trainer.Tokenizer, validation);
        }

        CausalLM model;
        ITokenizer baseTokenizer;
        if (context.BaseCheckpointDir is { } baseDir)
        {
            var loaded = Checkpoint.Load(baseDir, device);
            (model, baseTokenizer) = (loaded.Model, loaded.Tokenizer);
        }
        else
        {
            baseTokenizer = ByteLevelBpeTokenizer.CreateBytes();
            ModelConfig shape;
            try
            {
                shape = ModelPresets.Create(config.ModelPreset, baseTokenizer.VocabSize, config.SequenceLength);
            }
            catch (ArgumentException e)
            {
                throw new ContractException($"pretrain.modelPreset: {e.Message}", e);
            }
            model = new CausalLM(shape, schedule.Seed).to(device);
        }
        try
        {
            var (train, validation) = Split(baseTokenizer, corpus, config);
            return (new NtpTrainer(model, baseTokenizer, new TokenWindows(train, config.SequenceLength, schedule.Seed), schedule), baseTokenizer, validation);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static PretrainConfig Config(StageJob job) =>
        job.Pretrain ?? throw new ContractException("stage job of kind 'pretrain' has no 'pretrain' config; add it");

    private static (int[] Train, int[] Validation) Split(ITokenizer tokenizer, string corpus, PretrainConfig config)
    {
        var tokens = tokenizer.Encode(corpus);
        var (train, validation) = TokenWindows.Split(tokens, ValidationFraction);
        if (train.Length < config.SequenceLength + 2)
            throw new ContractException(
                $"pretrain dataset has {tokens.Length} tokens; training windows of pretrain.sequenceLength={config.SequenceLength} need at least {(config.SequenceLength + 2) / (1 - ValidationFraction):F0}. Give a larger corpus or a smaller sequenceLength");
        return (train, validation);
    }

    /// <summary>A greedy continuation of the corpus opening, so the report shows what the model learned.</summary>
    private static string Sample(CausalLM model, ITokenizer tokenizer, string corpus, int sequenceLength, int seed)
    {
        var prompt = tokenizer.Encode(corpus[..Math.Min(corpus.Length, 64)]);
        prompt = prompt[..Math.Min(prompt.Length, Math.Max(1, sequenceLength / 2))];
        model.eval();
        using var sampler = new TextSampler(model, seed);
        var result = sampler.Generate([prompt], new SamplingOptions(MaxNewTokens: 48, Greedy: true));
        var text = new StringBuilder()
            .AppendLine("## Sample (greedy)")
            .AppendLine()
            .AppendLine("```text")
            .Append(tokenizer.Decode(prompt)).Append(" >>> ").AppendLine(tokenizer.Decode(result.Tokens[0]))
            .AppendLine("```");
        return text.ToString().ReplaceLineEndings("\n");
    }
}

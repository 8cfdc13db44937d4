using System.Diagnostics;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rmt.Training.Optimization;

// Next-token prediction (pretraining / continued pretraining), nanoGPT style:
//   for each optimizer step: GradAccumulation micro-batches of BatchSize / GradAccumulation windows,
//   loss = masked mean cross-entropy / GradAccumulation, backward; clip the global grad norm;
//   AdamW (decay on matrices and embeddings only) at the warm-up + cosine learning rate.
// Mixed precision: on CUDA with native bf16 (compute capability >= 8.0, Devices.Choose) the model
// computes in bf16 with float32 master weights (ComputeDtype); older GPUs and the CPU use float32.
// Batch k is a pure function of k, the schedule a function of the step, so a checkpoint (weights,
// optimizer, step, data position, RNG) resumes bit for bit.

/// <summary>Optimizer settings of <see cref="NtpTrainer"/> beyond the shared schedule.</summary>
public sealed record NtpTrainerOptions(
    double MinLrRatio = 0.1,       // cosine floor as a fraction of the peak
    double Beta1 = 0.9,
    double Beta2 = 0.95,           // nanoGPT / LLaMA value for stability with small batches
    double Eps = 1e-8,
    bool Autocast = true);         // bf16 compute where the GPU has it natively (Devices.PrecisionOf)

/// <summary>What one optimizer step did.</summary>
public sealed record NtpStepResult(int Step, double Loss, double LearningRate, double GradNorm, long Tokens, double Seconds)
{
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}

public sealed class NtpTrainer : IDisposable
{
    private readonly ITokenBatchSource data;
    private readonly TrainingSchedule schedule;
    private readonly AdamW optimizer;
    private readonly int microBatch;

    public NtpTrainer(CausalLM model, ITokenizer tokenizer, ITokenBatchSource data, TrainingSchedule schedule, NtpTrainerOptions? options = null)
    {
        schedule.Validate("schedule");
        if (schedule.BatchSize % schedule.GradAccumulation != 0)
            throw new ArgumentException($"schedule.batchSize ({schedule.BatchSize}) must be a multiple of schedule.gradAccumulation ({schedule.GradAccumulation})");
        var wanted = schedule.Device.StartsWith("cuda", StringComparison.Ordinal) ? DeviceType.CUDA : DeviceType.CPU;
        if (model.Device.type != wanted)
            throw new ArgumentException($"schedule.device is '{schedule.Device}' but the model is on {model.Device}; move it with model.to(Devices.Parse(schedule.Device)) first");
        Options = options ?? new NtpTrainerOptions();
        Model = model;
        Tokenizer = tokenizer;
        this.data = data;
        this.schedule = schedule;
        microBatch = schedule.BatchSize / schedule.GradAccumulation;
        Lr = new CosineSchedule(schedule.LearningRate, schedule.WarmupSteps, schedule.Steps, Options.MinLrRatio);
        if (Options.Autocast && Devices.AutocastDtype(model.Device) is ScalarType compute) model.ComputeDtype = compute;

        optimizer = Optimizers.AdamW(model, schedule.LearningRate, schedule.WeightDecay, Options.Beta1, Options.Beta2, Options.Eps);
        random.manual_seed(schedule.Seed);
    }

    public CausalLM Model { get; }
    public ITokenizer Tokenizer { get; }
    public NtpTrainerOptions Options { get; }
    public CosineSchedule Lr { get; }
    public OptimizerHelper Optimizer => optimizer;

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>Micro-batches consumed.</summary>
    public long DataPosition { get; private set; }

    public long TokensSeen { get; private set; }
    public double? LastLoss { get; private set; }

    /// <summary>One optimizer step (GradAccumulation micro-batches).</summary>
    public NtpStepResult TrainStep()
    {
        var watch = Stopwatch.StartNew();
        using var stepScope = NewDisposeScope();   // clip_grad_norm_ and the optimizer make temporaries too
        Model.train();
        double lr = Lr.At(Step);
        Optimizers.SetLearningRate(optimizer, lr);
        double lossSum = 0;
        long tokens = 0;
        for (int micro = 0; micro < schedule.GradAccumulation; micro++)
        {
            using var scope = NewDisposeScope();
            using var batch = data.Batch(DataPosition, microBatch, Model.Device);
            var logits = Model.Forward(batch.Inputs);                                   // (B, T, V)
            var loss = NtpLoss.Compute(logits, batch.Targets, batch.LossMask);          // ()
            (loss / schedule.GradAccumulation).backward();
            lossSum += loss.item<float>();
            tokens += batch.TokenCount;
            DataPosition++;
        }
        double gradNorm = schedule.GradClip > 0
            ? nn.utils.clip_grad_norm_(Model.parameters(), schedule.GradClip)
            : double.NaN;
        optimizer.step();
        optimizer.zero_grad();
        Step++;
        TokensSeen += tokens;
        LastLoss = lossSum / schedule.GradAccumulation;
        return new NtpStepResult(Step, LastLoss.Value, lr, gradNorm, tokens, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Mean loss over <paramref name="batches"/> fixed batches (indices 0..n-1) of
    /// <paramref name="source"/>, without gradients.</summary>
    public double Evaluate(ITokenBatchSource source, int batches, int batchSize)
    {
        Model.eval();
        using var guard = no_grad();
        double sum = 0;
        for (int i = 0; i < batches; i++)
        {
            using var scope = NewDisposeScope();
            using var batch = source.Batch(i, batchSize, Model.Device);
            sum += NtpLoss.Compute(Model.Forward(batch.Inputs), batch.Targets, batch.LossMask).item<float>();
        }
        return sum / batches;
    }

    public TrainerState State() => new(
        Step, DataPosition, TokensSeen, Trainer: "ntp",
        TorchRngState: Checkpoint.CaptureTorchRng(), LastLoss: LastLoss);

    /// <summary>Writes a full checkpoint (float32 weights, tokenizer, optimizer, state, stage config).</summary>
    public string SaveCheckpoint(string dir, string? stageConfigJson = null) =>
        Checkpoint.Save(dir, Model, Tokenizer, State(), optimizer, stageConfigJson);

    /// <summary>Restores optimizer, step, data position and RNG from a checkpoint whose weights the
    /// model already holds (load it with <see cref="Checkpoint.Load"/>; see <see cref="Resume"/>).</summary>
    public void RestoreState(string dir)
    {
        var state = Checkpoint.ReadState(dir) ?? throw new FileNotFoundException($"checkpoint '{dir}' has no {Checkpoint.TrainerStateFile}");
        Checkpoint.LoadOptimizer(dir, optimizer);
        Step = state.Step;
        DataPosition = state.DataPosition;
        TokensSeen = state.TokensSeen;
        LastLoss = state.LastLoss;
        if (state.TorchRngState is not null) Checkpoint.RestoreTorchRng(state.TorchRngState);
    }

    /// <summary>Loads a checkpoint onto <paramref name="device"/> and continues where it stopped.</summary>
    public static NtpTrainer Resume(string dir, ITokenBatchSource data, TrainingSchedule schedule, Device device, NtpTrainerOptions? options = null)
    {
        var loaded = Checkpoint.Load(dir, device);
        var trainer = new NtpTrainer(loaded.Model, loaded.Tokenizer, data, schedule, options);
        trainer.RestoreState(dir);
        return trainer;
    }

    public void Dispose() => optimizer.Dispose();
}

using System.Globalization;
using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rmt.Training.Checkpoints;

/// <summary>A model, its tokenizer and (optionally) training state loaded from a checkpoint folder.</summary>
public sealed record LoadedCheckpoint(CausalLM Model, ITokenizer Tokenizer, TrainerState? State, string? StageConfigJson) : IDisposable
{
    public void Dispose() => Model.Dispose();
}

/// <summary>Checkpoint folders: Hugging Face config.json + model.safetensors, the tokenizer files,
/// trainer_state.json, optimizer.bin (TorchSharp optimizer state) and stage_config.json (the stage
/// config that produced it). A folder appears complete or not at all: it is written under a
/// temporary name and renamed. Any trainer (NTP, RMT, post-training) uses the same layout.</summary>
public static class Checkpoint
{
    public const string TrainerStateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.bin";
    public const string StageConfigFile = "stage_config.json";

    /// <summary>Writes a checkpoint into <paramref name="dir"/>, replacing an older one there.</summary>
    /// <param name="weightsDtype">dtype of the saved weights; float32 by default when a trainer
    /// state is given (exact resume), else the model's storage dtype.</param>
    /// <param name="extraFiles">called with the (temporary) folder to add trainer-specific files
    /// before the folder is published.</param>
    public static string Save(string dir, CausalLM model, ITokenizer tokenizer, TrainerState? state = null,
        OptimizerHelper? optimizer = null, string? stageConfigJson = null, ScalarType? weightsDtype = null,
        Action<string>? extraFiles = null)
    {
        dir = Path.GetFullPath(dir);
        string temp = dir.TrimEnd(Path.DirectorySeparatorChar) + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        ModelIO.Save(model, temp, weightsDtype ?? (state is not null ? ScalarType.Float32 : model.StorageDtype));
        tokenizer.Save(temp);
        if (optimizer is not null) optimizer.save_state_dict(Path.Combine(temp, OptimizerFile));
        if (stageConfigJson is not null) File.WriteAllText(Path.Combine(temp, StageConfigFile), stageConfigJson);
        extraFiles?.Invoke(temp);
        if (state is not null) File.WriteAllText(Path.Combine(temp, TrainerStateFile), state.ToJson());
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.Move(temp, dir);
        return dir;
    }

    /// <summary>Loads model (float32 unless told otherwise) and tokenizer, plus the trainer state
    /// and stage config when present.</summary>
    public static LoadedCheckpoint Load(string dir, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var model = ModelIO.Load(dir, device, dtype);
        try
        {
            var tokenizer = TokenizerLoader.Load(dir);
            if (tokenizer.VocabSize > model.Config.VocabSize)
            {
                var added = tokenizer is ByteLevelBpeTokenizer { AddedThinkTokens.Count: > 0 } bpe
                    ? $"; the tokenizer had no {string.Join(" or ", bpe.AddedThinkTokens)}, which were added with new ids that this model has no embeddings for: " +
                      "start from a checkpoint whose tokenizer and embeddings include them (e.g. one pretrained or mid-trained by RMT)"
                    : "";
                throw new ModelFormatException($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model only {model.Config.VocabSize}{added}");
            }
            return new LoadedCheckpoint(model, tokenizer, ReadState(dir), ReadStageConfig(dir));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public static TrainerState? ReadState(string dir)
    {
        var path = Path.Combine(dir, TrainerStateFile);
        return File.Exists(path) ? TrainerState.FromJson(File.ReadAllText(path), path) : null;
    }

    public static string? ReadStageConfig(string dir)
    {
        var path = Path.Combine(dir, StageConfigFile);
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    /// <summary>Restores optimizer state saved with the checkpoint (same parameters, same order).</summary>
    public static void LoadOptimizer(string dir, OptimizerHelper optimizer)
    {
        var path = Path.Combine(dir, OptimizerFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{dir}' has no {OptimizerFile}; it cannot resume training exactly", path);
        optimizer.load_state_dict(path);
    }

    /// <summary>The newest complete <c>step-N</c> folder under <paramref name="root"/>, or null.</summary>
    public static string? Latest(string root)
    {
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root, "step-*")
            .Select(d => (Dir: d, N: BlobLayout.StepOf(d.Replace('\\', '/'))))
            .Where(x => x.N is not null && File.Exists(Path.Combine(x.Dir, TrainerStateFile)))
            .OrderByDescending(x => x.N)
            .Select(x => x.Dir)
            .FirstOrDefault();
    }

    /// <summary>Folder name of the checkpoint at <paramref name="step"/> under <paramref name="root"/>.</summary>
    public static string StepDir(string root, long step) => Path.Combine(root, BlobLayout.StepFolder(step));

    /// <summary>torch's default CPU generator state as base64, and back.</summary>
    public static string CaptureTorchRng()
    {
        using var state = random.get_rng_state();
        return Convert.ToBase64String(state.bytes);
    }

    public static void RestoreTorchRng(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        using var state = tensor(bytes, dtype: ScalarType.Byte);
        random.set_rng_state(state);
    }
}

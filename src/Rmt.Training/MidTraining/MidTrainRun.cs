using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;

namespace Rmt.Training.MidTraining;

/// <summary>What a mid-training run ended with.</summary>
public sealed record MidTrainRunResult(string FinalCheckpoint, int Steps, bool Resumed, bool EntropiesCached, IReadOnlyList<MidTrainStepStats> History);

/// <summary>A whole mid-training stage from files, for the GPU job and local runs: loads the base
/// checkpoint, tokenizes the corpus with its tokenizer, computes (or reads the cached) proxy
/// entropies next to the corpus, resumes from the newest checkpoint under the output folder when
/// there is one, trains with checkpoints every Schedule.CheckpointEvery steps
/// (<c>{output}/step-{n}</c>, each with the config as stage_config.json) and returns the last.</summary>
public static class MidTrainRun
{
    /// <param name="corpusPath">UTF-8 text; documents may be separated by the end-of-text token's text.</param>
    /// <param name="checkpointSaved">Called with each checkpoint folder and its step.</param>
    public static MidTrainRunResult Run(MidTrainConfig config, string baseCheckpoint, string corpusPath, string outputRoot,
        Action<MidTrainProgress>? progress = null, Action<string, int>? checkpointSaved = null)
    {
        config.Validate();
        if (!File.Exists(corpusPath)) throw new FileNotFoundException($"mid-training corpus '{corpusPath}' does not exist", corpusPath);
        var device = Devices.Parse(config.Schedule.Device);
        var latest = Checkpoint.Latest(outputRoot);
        if (latest is not null && Checkpoint.ReadState(latest)?.Trainer != "rmt") latest = null;

        using var start = Checkpoint.Load(latest ?? baseCheckpoint, device);
        var tokens = start.Tokenizer.Encode(File.ReadAllText(corpusPath));
        if (tokens.Length < 2) throw new InvalidDataException($"mid-training corpus '{corpusPath}' has fewer than two tokens");

        // The proxy is fixed for the whole run (the base model unless the config names one), so the
        // entropies, and the cache key, do not change when the run resumes.
        var proxyDir = config.Curriculum.ProxyCheckpoint ?? baseCheckpoint;
        var cacheTarget = Writable(Path.GetDirectoryName(Path.GetFullPath(corpusPath))!) ? corpusPath : Path.Combine(outputRoot, Path.GetFileName(corpusPath));
        Directory.CreateDirectory(outputRoot);
        var (entropies, cached) = EntropyCache.LoadOrCompute(cacheTarget, tokens, EntropyCache.Fingerprint(proxyDir), config.Curriculum.TopK, () =>
        {
            using var proxy = ModelIO.Load(proxyDir, device);
            return TokenEntropy.Compute(proxy, tokens, config.Curriculum.TopK);
        });

        using var reference = config.Grpo.KlWeight > 0 ? ModelIO.Load(baseCheckpoint, device) : null;
        using var trainer = new RmtTrainer(config, start.Model, start.Tokenizer, tokens, entropies, reference);
        if (latest is not null) trainer.RestoreState(latest);
        string final = latest ?? baseCheckpoint;
        trainer.Train(progress, t =>
        {
            final = t.SaveCheckpoint(Checkpoint.StepDir(outputRoot, t.Step));
            checkpointSaved?.Invoke(final, t.Step);
        });
        return new MidTrainRunResult(final, trainer.Step, latest is not null, cached, trainer.History);
    }

    private static bool Writable(string dir)
    {
        try
        {
            var probe = Path.Combine(dir, $".rmt-write-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

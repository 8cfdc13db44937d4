using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Rmt.Contracts;
using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using Rmt.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.GpuJob.Commands;

/// <summary>Throughput of the training step and of sampling with and without the KV cache, on a
/// randomly initialised preset model with random tokens (speed does not depend on the weights).</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var presetOption = new Option<string>("--preset") { Description = "model preset (ModelPresets)", DefaultValueFactory = _ => "tiny" };
        var vocabOption = new Option<int>("--vocab") { Description = "vocabulary size", DefaultValueFactory = _ => ByteLevelBpeTokenizer.CreateBytes().VocabSize };
        var batchOption = new Option<int>("--batch") { Description = "training batch size", DefaultValueFactory = _ => 16 };
        var seqOption = new Option<int>("--seq") { Description = "training sequence length", DefaultValueFactory = _ => 256 };
        var trainStepsOption = new Option<int>("--train-steps") { Description = "timed training steps", DefaultValueFactory = _ => 10 };
        var genBatchOption = new Option<int>("--gen-batch") { Description = "prompts sampled together", DefaultValueFactory = _ => 8 };
        var promptLenOption = new Option<int>("--prompt-len") { Description = "prompt tokens", DefaultValueFactory = _ => 16 };
        var newTokensOption = new Option<int>("--new-tokens") { Description = "tokens sampled per prompt", DefaultValueFactory = _ => 128 };
        var repeatsOption = new Option<int>("--repeats") { Description = "generation runs (best is reported)", DefaultValueFactory = _ => 3 };
        var deviceOption = CommandParts.DeviceOption();
        var threadsOption = CommandParts.ThreadsOption();
        var command = new Command("bench", "measure training tokens/s, generation tokens/s with and without the KV cache, and peak memory")
        {
            presetOption, vocabOption, batchOption, seqOption, trainStepsOption, genBatchOption, promptLenOption, newTokensOption,
            repeatsOption, deviceOption, threadsOption,
        };
        command.SetAction(parse => Run(
            parse.GetRequiredValue(presetOption), parse.GetValue(vocabOption), parse.GetValue(batchOption), parse.GetValue(seqOption),
            parse.GetValue(trainStepsOption), parse.GetValue(genBatchOption), parse.GetValue(promptLenOption), parse.GetValue(newTokensOption),
            Math.Max(1, parse.GetValue(repeatsOption)), CommandParts.TorchDevice(parse, deviceOption, threadsOption), parse.InvocationConfiguration.Output));
        return command;
    }

    private static int Run(string preset, int vocab, int batch, int seq, int trainSteps, int genBatch, int promptLen, int newTokens,
        int repeats, Device device, TextWriter output)
    {
        var config = ModelPresets.Create(preset, vocab);
        if (seq > config.MaxPositionEmbeddings || promptLen + newTokens > config.MaxPositionEmbeddings)
            throw new UsageException($"--seq and --prompt-len + --new-tokens must fit the preset context ({config.MaxPositionEmbeddings})");
        using var model = new CausalLM(config, seed: 1);
        model.to(device);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"model: {preset} ({config}), {model.ParameterCount / 1e6:F2}M parameters, device {device}, torch threads {get_num_threads()}"));

        // Training: forward + backward + AdamW on random windows, one warm-up step not timed.
        var stream = randint(0, vocab, [Math.Max(seq + 2, batch * seq * 4)], generator: new Generator(2)).data<long>().Select(x => (int)x).ToArray();
        var schedule = new TrainingSchedule(Steps: trainSteps + 1, BatchSize: batch, WarmupSteps: 0, Seed: 1,
            Device: device.type == DeviceType.CUDA ? "cuda" : "cpu");
        using (var trainer = new NtpTrainer(model, ByteLevelBpeTokenizer.CreateBytes(), new TokenWindows(stream, seq, 3), schedule))
        {
            trainer.TrainStep();
            Synchronize(device);
            var watch = Stopwatch.StartNew();
            long tokens = 0;
            for (int i = 0; i < trainSteps; i++) tokens += trainer.TrainStep().Tokens;
            Synchronize(device);
            output.WriteLine(string.Create(inv, $"train: {tokens / watch.Elapsed.TotalSeconds:F0} tokens/s (batch {batch} x {seq}, {trainSteps} steps, {watch.Elapsed.TotalSeconds / trainSteps * 1000:F1} ms/step{(model.ComputeDtype is ScalarType c ? $", compute {c}" : "")})"));
        }

        // Generation: genBatch prompts of promptLen random tokens, exactly newTokens sampled each.
        model.eval();
        var random = new Random(4);
        var prompts = Enumerable.Range(0, genBatch).Select(_ => Enumerable.Range(0, promptLen).Select(_ => random.Next(3, vocab)).ToArray()).ToList();
        using var sampler = new TextSampler(model, seed: 5);
        // Best of `repeats` runs each, alternating, so a busy machine hurts both sides alike.
        double withCache = 0, withoutCache = 0;
        for (int r = 0; r < repeats; r++)
        {
            withCache = Math.Max(withCache, GenerationRate(sampler, prompts, newTokens, useCache: true, device));
            withoutCache = Math.Max(withoutCache, GenerationRate(sampler, prompts, newTokens, useCache: false, device));
        }
        output.WriteLine(string.Create(inv, $"generate (KV cache): {withCache:F0} tokens/s ({genBatch} x {newTokens} new tokens after {promptLen}-token prompts, best of {repeats})"));
        output.WriteLine(string.Create(inv, $"generate (no cache): {withoutCache:F0} tokens/s"));
        output.WriteLine(string.Create(inv, $"kv-cache speed-up: {withCache / withoutCache:F1}x"));
        output.WriteLine(string.Create(inv, $"peak memory: {PeakResidentMegabytes():F0} MB resident (process high-water mark{(device.type == DeviceType.CUDA ? "; GPU memory is not exposed by TorchSharp 0.107, read nvidia-smi" : "")})"));
        return 0;
    }

    private static double GenerationRate(TextSampler sampler, List<int[]> prompts, int newTokens, bool useCache, Device device)
    {
        var options = new SamplingOptions(MaxNewTokens: newTokens, Temperature: 1.0, UseKvCache: useCache);
        sampler.Generate(prompts, options with { MaxNewTokens = 4 });   // warm-up
        Synchronize(device);
        var watch = Stopwatch.StartNew();
        var result = sampler.Generate(prompts, options);
        Synchronize(device);
        return result.Lengths.Sum() / watch.Elapsed.TotalSeconds;
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>VmHWM of /proc/self/status (Linux), else the current working set.</summary>
    private static double PeakResidentMegabytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
        {
            var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out long kb)) return kb / 1024.0;
        }
        return Environment.WorkingSet / (1024.0 * 1024.0);
    }
}

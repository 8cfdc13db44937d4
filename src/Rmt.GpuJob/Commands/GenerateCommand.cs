using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;

namespace Rmt.GpuJob.Commands;

/// <summary>Continues a prompt with a model folder (Hugging Face format or an RMT checkpoint). The
/// full id sequence (prompt + new tokens) is the last line of the output.</summary>
public sealed class GenerateCommand : ICommand
{
    public string Name => "generate";
    public string Summary => "continue a prompt; prints the text (with a tokenizer) and, on the last line, the full id sequence";
    public string Usage =>
        "--model DIR [--tokenizer DIR] (--prompt-ids \"1 2 3\" | --prompt TEXT) [--max-new-tokens 32] [--greedy | --temperature 1 --top-p 1 --seed 0] [--stop-at-eos] [--no-cache] [--bf16] [--device cpu]";

    public int Run(CommandArgs args, TextWriter output)
    {
        var modelDir = args.Required("model");
        var tokenizerDir = args.Optional("tokenizer");
        var promptIds = args.Optional("prompt-ids");
        var promptText = args.Optional("prompt");
        int maxNew = args.Int("max-new-tokens", 32);
        bool greedy = args.Flag("greedy");
        double temperature = args.Double("temperature", 1.0);
        double topP = args.Double("top-p", 1.0);
        int seed = args.Int("seed", 0);
        bool stopAtEos = args.Flag("stop-at-eos");
        bool noCache = args.Flag("no-cache");
        bool bf16 = args.Flag("bf16");
        var device = args.Device();
        args.EnsureAllUsed();
        if ((promptIds is null) == (promptText is null)) throw new UsageException("give exactly one of --prompt-ids or --prompt");

        tokenizerDir ??= TokenizerLoader.Exists(modelDir) ? modelDir : null;
        var tokenizer = tokenizerDir is null ? null : TokenizerLoader.Load(tokenizerDir);
        int[] prompt = promptIds is not null
            ? Ids.Parse(promptIds, "--prompt-ids")
            : (tokenizer ?? throw new UsageException($"--prompt needs a tokenizer: '{modelDir}' has none, pass --tokenizer DIR")).Encode(promptText!);
        if (prompt.Length == 0) throw new UsageException("the prompt is empty");

        using var model = ModelIO.Load(modelDir, device);
        if (bf16) model.ComputeDtype = TorchSharp.torch.ScalarType.BFloat16;   // float32 weights, bf16 matmuls
        if (prompt.Any(id => id < 0 || id >= model.Config.VocabSize))
            throw new UsageException($"prompt ids must be in [0, {model.Config.VocabSize})");
        using var sampler = new TextSampler(model, seed);
        var options = new SamplingOptions(
            MaxNewTokens: maxNew, Temperature: temperature, TopP: topP, Greedy: greedy,
            StopTokens: stopAtEos ? [tokenizer?.EndOfText ?? model.Config.EosTokenId] : null, UseKvCache: !noCache);
        var result = sampler.Generate([prompt], options);
        int[] full = [.. prompt, .. result.Tokens[0]];
        if (tokenizer is not null) output.WriteLine(tokenizer.Decode(full));
        output.WriteLine(string.Join(' ', full));
        return 0;
    }
}

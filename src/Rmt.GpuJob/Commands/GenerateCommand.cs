using System.CommandLine;
using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;

namespace Rmt.GpuJob.Commands;

/// <summary>`generate`: continues a prompt with a model folder (Hugging Face format or an RMT
/// checkpoint). The full id sequence (prompt + new tokens) is the last line of the output.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var modelOption = new Option<string>("--model") { Description = "model folder (Hugging Face format or an RMT checkpoint)", HelpName = "DIR", Required = true };
        var tokenizerOption = new Option<string>("--tokenizer") { Description = "tokenizer folder (default: the model folder's, if it has one)", HelpName = "DIR" };
        var promptIdsOption = new Option<string>("--prompt-ids") { Description = "the prompt as token ids", HelpName = "\"1 2 3\"" };
        var promptOption = new Option<string>("--prompt") { Description = "the prompt as text (needs a tokenizer)", HelpName = "TEXT" };
        var maxNewOption = new Option<int>("--max-new-tokens") { Description = "tokens to sample", DefaultValueFactory = _ => 32 };
        var greedyOption = new Option<bool>("--greedy") { Description = "argmax instead of sampling" };
        var temperatureOption = new Option<double>("--temperature") { Description = "sampling temperature", DefaultValueFactory = _ => 1.0 };
        var topPOption = new Option<double>("--top-p") { Description = "nucleus sampling mass", DefaultValueFactory = _ => 1.0 };
        var seedOption = new Option<int>("--seed") { Description = "sampling seed", DefaultValueFactory = _ => 0 };
        var stopAtEosOption = new Option<bool>("--stop-at-eos") { Description = "stop at the end-of-text token" };
        var noCacheOption = new Option<bool>("--no-cache") { Description = "recompute the whole sequence at each step (no KV cache)" };
        var bf16Option = new Option<bool>("--bf16") { Description = "float32 weights, bf16 matmuls" };
        var deviceOption = CommandParts.DeviceOption();
        var threadsOption = CommandParts.ThreadsOption();
        var command = new Command("generate", "continue a prompt; prints the text (with a tokenizer) and, on the last line, the full id sequence")
        {
            modelOption, tokenizerOption, promptIdsOption, promptOption, maxNewOption, greedyOption, temperatureOption, topPOption,
            seedOption, stopAtEosOption, noCacheOption, bf16Option, deviceOption, threadsOption,
        };
        CommandParts.RequireExactlyOne(command, promptIdsOption, promptOption);
        command.SetAction(parse =>
        {
            var modelDir = parse.GetRequiredValue(modelOption);
            var tokenizerDir = parse.GetValue(tokenizerOption);
            var promptIds = parse.GetValue(promptIdsOption);
            var promptText = parse.GetValue(promptOption);
            int maxNew = parse.GetValue(maxNewOption);
            bool greedy = parse.GetValue(greedyOption);
            double temperature = parse.GetValue(temperatureOption);
            double topP = parse.GetValue(topPOption);
            int seed = parse.GetValue(seedOption);
            bool stopAtEos = parse.GetValue(stopAtEosOption);
            bool noCache = parse.GetValue(noCacheOption);
            bool bf16 = parse.GetValue(bf16Option);
            var device = CommandParts.TorchDevice(parse, deviceOption, threadsOption);
            var output = parse.InvocationConfiguration.Output;

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
        });
        return command;
    }
}
